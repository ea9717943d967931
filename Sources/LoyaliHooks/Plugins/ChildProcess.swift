import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, its stdin, stdout and stderr connected to pipes.
///
/// - Every pipe end is created close-on-exec, so no other child (another plugin, a test's
///   `Process`) inherits one and keeps a plugin's stdin open past its EOF; the child also starts
///   with every descriptor above 2 closed.
/// - The child leads its own process group: a Ctrl-C at the terminal reaches loyali-hooks only,
///   which then stops plugins in order (EOF, then SIGTERM), and signals reach the plugin's own
///   children too.
/// - Signal dispositions and the mask are reset, so a host that ignores SIGTERM (the durable
///   runner does, to handle it itself) does not pass that on.
///
/// The object owns the pid and the descriptors: `deinit` closes the descriptors and, if the child
/// was never reaped, kills its group and reaps it.
final class ChildProcess: Sendable {
    /// How a child ended.
    enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signalled(let signal): "was killed by signal \(signal)\(Self.signalName(signal).map { " (\($0))" } ?? "")"
            }
        }

        static func signalName(_ signal: Int32) -> String? {
            switch signal {
            case SIGKILL: "SIGKILL"
            case SIGTERM: "SIGTERM"
            case SIGSEGV: "SIGSEGV"
            case SIGABRT: "SIGABRT"
            case SIGINT: "SIGINT"
            case SIGPIPE: "SIGPIPE"
            case SIGBUS: "SIGBUS"
            default: nil
            }
        }

        /// Decodes a `waitpid` status word.
        init(waitStatus status: Int32) {
            if status & 0x7F == 0 {
                self = .exited((status >> 8) & 0xFF)
            } else {
                self = .signalled(status & 0x7F)
            }
        }
    }

    /// The child's pid, which is also its process group id.
    let pid: pid_t
    /// The read ends of the child's stdout and stderr.
    let stdoutFD: Int32
    let stderrFD: Int32

    private struct State {
        var stdinFD: Int32
        var termination: Termination?
    }
    private let state: Mutex<State>

    /// Starts `argv` in `directory` with exactly `environment`. `argv[0]` is looked up in `PATH`
    /// unless it contains a `/`, in which case it is taken relative to `directory`.
    init(argv: [String], directory: String, environment: [String: String]) throws(SpawnError) {
        precondition(!argv.isEmpty, "a command needs at least a program")
        var program = argv[0]
        if program.contains("/"), !program.hasPrefix("/") {
            program = (directory as NSString).appendingPathComponent(program)
        }
        let stdinPipe = try Self.makePipe()
        let stdoutPipe: (read: Int32, write: Int32)
        let stderrPipe: (read: Int32, write: Int32)
        do {
            stdoutPipe = try Self.makePipe()
        } catch {
            close(stdinPipe.read); close(stdinPipe.write)
            throw error
        }
        do {
            stderrPipe = try Self.makePipe()
        } catch {
            for fd in [stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write] { close(fd) }
            throw error
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe.read, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe.write, 2)
        if let closeFrom = GlibcExtras.addCloseFrom { _ = closeFrom(&actions, 3) }
        if let addChdir = GlibcExtras.addChdir {
            _ = directory.withCString { addChdir(&actions, $0) }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let arguments = [program] + argv.dropFirst()
        let environmentLines = environment.map { "\($0.key)=\($0.value)" }.sorted()
        var pid = pid_t()
        let result = withCStrings(arguments) { argvPointer in
            withCStrings(environmentLines) { envPointer in
                program.contains("/")
                    ? posix_spawn(&pid, program, &actions, &attributes, argvPointer, envPointer)
                    : posix_spawnp(&pid, program, &actions, &attributes, argvPointer, envPointer)
            }
        }
        // The child holds its own copies now (or never started); the parent keeps only its ends.
        close(stdinPipe.read)
        close(stdoutPipe.write)
        close(stderrPipe.write)
        guard result == 0 else {
            close(stdinPipe.write); close(stdoutPipe.read); close(stderrPipe.read)
            throw SpawnError(program: argv[0], directory: directory, code: result)
        }
        self.pid = pid
        self.stdoutFD = stdoutPipe.read
        self.stderrFD = stderrPipe.read
        self.state = Mutex(State(stdinFD: stdinPipe.write, termination: nil))
    }

    deinit {
        let (stdinFD, reaped) = state.withLock { ($0.stdinFD, $0.termination != nil) }
        if stdinFD >= 0 { close(stdinFD) }
        close(stdoutFD)
        close(stderrFD)
        if !reaped {
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    /// Writes all of `bytes` to the child's stdin; `false` once stdin is closed or the child is
    /// gone. Blocks while the pipe is full. Call only from a thread that blocks SIGPIPE.
    func writeAll(_ bytes: [UInt8]) -> Bool {
        let fd = state.withLock { $0.stdinFD }
        guard fd >= 0 else { return false }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    /// Closes the child's stdin, which it reads as EOF.
    func closeStdin() {
        let fd = state.withLock { state -> Int32 in
            defer { state.stdinFD = -1 }
            return state.stdinFD
        }
        if fd >= 0 { close(fd) }
    }

    /// Sends `signal` to the child's whole process group, unless it was already reaped (its
    /// pid could belong to someone else by then).
    func signalGroup(_ signal: Int32) {
        state.withLock { state in
            if state.termination == nil { kill(-pid, signal) }
        }
    }

    /// How the child ended, once reaped.
    var termination: Termination? { state.withLock { $0.termination } }

    /// Blocks until the child exits and reaps it. Call from one thread only.
    @discardableResult
    func waitForExit() -> Termination {
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, 0) } while result < 0 && errno == EINTR
        // ECHILD: someone else reaped it (a process-wide SIGCHLD handler); it is gone either way.
        let termination = result == pid ? Termination(waitStatus: status) : .exited(-1)
        state.withLock { $0.termination = termination }
        return termination
    }

    private static func makePipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        let result: Int32
        if let pipe2 = GlibcExtras.pipe2 {
            result = pipe2(&fds, O_CLOEXEC)
        } else {
            result = pipe(&fds)
            if result == 0 { for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
        }
        guard result == 0 else { throw SpawnError(program: "pipe", directory: "", code: errno) }
        return (fds[0], fds[1])
    }
}

/// Calls `body` with a NULL-terminated C array of `strings`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
