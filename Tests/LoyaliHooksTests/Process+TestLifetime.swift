import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every process a test starts goes through ``Process/runTiedToTests()``, so that none outlives
/// the test process, whatever ends it (a failed `#require`, a crash, SIGKILL).
///
/// Why: a `serve` node or receiver left running after the test process died kept the output pipe
/// of `swift test` open, and `swift test` then waited for it forever (one CI run hung that way).
extension Process {
    /// `setpriv` from util-linux (in Debian's essential set), which sets the parent-death signal
    /// (`prctl(PR_SET_PDEATHSIG)`) and then execs the command, so the pid stays the command's.
    static let setpriv: String? = ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Where children's output goes when a test left it pointing at the test process's own stdout
    /// or stderr: one file per test process, so a failing child's last words can still be read.
    static let testChildrenLog: FileHandle? = {
        let fd = open(testChildrenLogPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        // An empty log says nothing, and one is made per test process: it goes at exit, so that
        // test runs do not litter the temp directory.
        atexit {
            var info = stat()
            if stat(Process.testChildrenLogPath, &info) == 0, info.st_size == 0 { unlink(Process.testChildrenLogPath) }
        }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }()

    /// The path of ``testChildrenLog``.
    static let testChildrenLogPath = NSTemporaryDirectory() + "loyali-hooks-test-children-\(getpid()).log"

    /// Starts the process like `run()`, but tied to the test process:
    ///
    /// - it gets SIGKILL when the test process dies (`setpriv --pdeathsig KILL`, when util-linux
    ///   is there);
    /// - it is started from one thread that lives as long as the test process: the kernel sends
    ///   the parent-death signal when the *thread* that started the child ends, and the threads
    ///   Swift Testing runs tests on come and go;
    /// - stdin defaults to /dev/null, and stdout/stderr that would be the test process's own go to
    ///   ``testChildrenLog`` instead, so no child holds the pipe `swift test` reads.
    func runTiedToTests() throws {
        if standardInput == nil || (standardInput as? FileHandle) === FileHandle.standardInput {
            standardInput = FileHandle.nullDevice
        }
        if standardOutput == nil || (standardOutput as? FileHandle) === FileHandle.standardOutput {
            standardOutput = Self.testChildrenLog ?? FileHandle.nullDevice
        }
        if standardError == nil || (standardError as? FileHandle) === FileHandle.standardError {
            standardError = Self.testChildrenLog ?? FileHandle.nullDevice
        }
        if let setpriv = Self.setpriv, let executable = executableURL {
            arguments = ["--pdeathsig", "KILL", "--", executable.path] + (arguments ?? [])
            executableURL = URL(fileURLWithPath: setpriv)
        }
        try SpawningThread.shared.run(self)
    }

    /// Sends `signal` to the process, unless it has ended. After Foundation has reaped it, its pid
    /// may already be another process's, or a thread id of the test process itself (`kill` on a
    /// thread id signals the whole process; pid_max is often 32768, so numbers come round fast).
    func sendSignal(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }
}

/// The one thread test children are started from (see ``Process/runTiedToTests()``). It never
/// ends, so its children get their parent-death signal only when the whole test process ends.
private final class SpawningThread: @unchecked Sendable {
    // `pending` and the results are touched only with `condition` locked; that is why it is safe.
    // A `Process` is handed to the thread and back, and used by one thread at a time.
    static let shared = SpawningThread()

    private final class Request: @unchecked Sendable {
        let process: Process
        var done = false
        var error: (any Error)?
        init(_ process: Process) { self.process = process }
    }

    private let condition = NSCondition()
    private var pending: [Request] = []

    private init() {
        let thread = Thread { [self] in loop() }
        thread.name = "loyali-hooks-tests.spawner"
        thread.start()
    }

    func run(_ process: Process) throws {
        let request = Request(process)
        condition.lock()
        pending.append(request)
        condition.broadcast()
        while !request.done { condition.wait() }
        condition.unlock()
        if let error = request.error { throw error }
    }

    private func loop() -> Never {
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let request = pending.removeFirst()
            condition.unlock()
            var failure: (any Error)?
            do { try request.process.run() } catch { failure = error }
            condition.lock()
            request.error = failure
            request.done = true
            condition.broadcast()
            condition.unlock()
        }
    }
}

/// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
func processIsAlive(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    return stat[stat.index(close, offsetBy: 2)] != "Z"
}

@Suite("Processes started by tests")
struct TestChildLifetimeTests {
    @Test(
        "a child a test starts dies with the test process, and lives on when the thread that started it ends",
        .enabled(if: Process.setpriv != nil, "setpriv (util-linux) is missing"))
    func childDiesWithTheTestProcess() async throws {
        let pidFile = NSTemporaryDirectory() + "loyali-tied-child-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        // In a process of its own (the exit test), which then ends like a test process that died.
        await #expect(processExitsWith: .success) { [pidFile = pidFile as String] in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sleep")
            process.arguments = ["60"]
            let started = DispatchSemaphore(value: 0)
            let thread = Thread {
                try? process.runTiedToTests()
                started.signal()
            }
            thread.start()
            started.wait()
            // The starting thread has ended by now; the child must not have died with it.
            usleep(300_000)
            guard process.processIdentifier > 0, processIsAlive(process.processIdentifier) else { exit(3) }
            try String(process.processIdentifier).write(toFile: pidFile, atomically: true, encoding: .utf8)
            exit(0)
        }
        let pid = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8)))
        let gone = eventually(seconds: 5) { !processIsAlive(pid) }
        if !gone { kill(pid, SIGKILL) }
        #expect(gone, "the child outlived the process that started it")
    }
}
