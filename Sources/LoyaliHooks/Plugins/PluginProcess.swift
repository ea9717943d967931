import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One running plugin process and the three threads that serve it:
///
/// - a **writer** that drains an outbox to the child's stdin (so a caller never blocks on a full
///   pipe or a hung plugin, and SIGPIPE stays blocked on that one thread);
/// - a **stdout reader** that hands each line to ``Handlers/line`` and, at EOF, reaps the child
///   and reports ``Handlers/exit``;
/// - a **stderr reader** that hands each line to ``Handlers/stderr`` and keeps the last few for
///   error messages.
///
/// All three are dedicated `Thread`s: they block in `read`/`write`/`waitpid`, which must never
/// happen on Swift's cooperative pool. The process owns its ``ChildProcess``, which kills and
/// reaps the child if this object goes away while it still runs.
final class PluginProcess: @unchecked Sendable {
    // Mutable state (`outbox`, `inputClosing`, `writerDone`, `stderrTail`, `stderrDone`) is only
    // touched while `condition` is locked; everything else is immutable. That is why it is safe.

    /// Callbacks, called on this process's threads.
    struct Handlers: Sendable {
        /// A line from stdout, without its newline; the buffer is valid only during the call.
        var line: @Sendable (PluginProcess, UnsafeBufferPointer<UInt8>) -> Void
        /// A stdout line longer than the limit: the protocol is broken.
        var overlongLine: @Sendable (PluginProcess) -> Void
        /// A line from stderr.
        var stderr: @Sendable (PluginProcess, String) -> Void
        /// The child exited (after its stdout reached EOF).
        var exit: @Sendable (PluginProcess, ChildProcess.Termination) -> Void
    }

    /// The longest stdout line accepted (a transformed event).
    static let maxLineBytes = 16 << 20
    /// Stderr lines kept for error messages.
    static let stderrTailLines = 12

    /// The slot this process serves in its supervisor.
    let slot: Int
    let child: ChildProcess
    /// When it was started.
    let startedAt: ContinuousClock.Instant
    private let handlers: Handlers
    private let condition = NSCondition()
    private var outbox: [UInt8] = []
    private var inputClosing = false
    private var writerDone = false
    private var stderrTail: [String] = []
    private var stderrDone = false

    /// Starts the process and its threads.
    init(slot: Int, argv: [String], directory: String, environment: [String: String], handlers: Handlers) throws(SpawnError) {
        self.slot = slot
        self.child = try ChildProcess(argv: argv, directory: directory, environment: environment)
        self.startedAt = .now
        self.handlers = handlers
        startThreads()
    }

    private func startThreads() {
        let writer = Thread { [self] in writeLoop() }
        writer.name = "loyali-hooks.plugin.writer"
        writer.start()
        let reader = Thread { [self] in readLoop() }
        reader.name = "loyali-hooks.plugin.stdout"
        // Deeply nested replies are parsed on this thread.
        reader.stackSize = 8 << 20
        reader.start()
        let errors = Thread { [self] in stderrLoop() }
        errors.name = "loyali-hooks.plugin.stderr"
        errors.start()
    }

    /// Queues `bytes` for the child's stdin.
    func send(_ bytes: [UInt8]) {
        condition.lock()
        if outbox.isEmpty { outbox = bytes } else { outbox += bytes }
        condition.broadcast()
        condition.unlock()
    }

    /// Queues `bytes` built in place, saving a copy for large batches.
    func send(_ build: (inout [UInt8]) -> Void) {
        condition.lock()
        build(&outbox)
        condition.broadcast()
        condition.unlock()
    }

    /// Closes stdin once everything queued is written: the child reads EOF.
    func finishInput() {
        condition.lock()
        inputClosing = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the child now: SIGKILL to its group, stdin closed. Threads end on their own.
    func kill() {
        child.signalGroup(SIGKILL)
        condition.lock()
        inputClosing = true
        outbox.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    /// The last lines the child wrote to stderr, waiting up to `wait` for it to finish writing
    /// them (a dying process's last words arrive a moment after its exit is noticed).
    func stderrLines(waitingUpTo wait: Duration = .zero) -> [String] {
        let deadline = Date(timeIntervalSinceNow: Double(wait.totalMilliseconds) / 1000)
        condition.lock()
        defer { condition.unlock() }
        while !stderrDone, wait > .zero {
            if !condition.wait(until: deadline) { break }
        }
        return stderrTail
    }

    // MARK: Threads

    private func writeLoop() {
        // A write to a pipe whose reader died raises SIGPIPE on the writing thread; blocked here,
        // it stays pending on this thread alone and the write fails with EPIPE instead.
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        var chunk: [UInt8] = []
        while true {
            condition.lock()
            while outbox.isEmpty && !inputClosing { condition.wait() }
            if outbox.isEmpty {
                writerDone = true
                condition.unlock()
                child.closeStdin()
                return
            }
            swap(&chunk, &outbox)
            condition.unlock()
            let ok = child.writeAll(chunk)
            chunk.removeAll(keepingCapacity: true)
            if !ok {
                // The child is gone or closed its stdin; the stdout reader reports the exit.
                condition.lock()
                writerDone = true
                outbox.removeAll()
                condition.unlock()
                child.closeStdin()
                return
            }
        }
    }

    private func readLoop() {
        let lines = DescriptorLines(descriptor: child.stdoutFD, maxLineBytes: Self.maxLineBytes)
        let end = lines.forEach { line in
            handlers.line(self, line)
            return true
        }
        if end == .lineTooLong {
            handlers.overlongLine(self)
            child.signalGroup(SIGKILL)
        }
        let termination = child.waitForExit()
        // Nothing will read what is still queued; let the writer finish.
        condition.lock()
        inputClosing = true
        outbox.removeAll()
        condition.broadcast()
        condition.unlock()
        handlers.exit(self, termination)
    }

    private func stderrLoop() {
        let lines = DescriptorLines(descriptor: child.stderrFD, maxLineBytes: 64 * 1024)
        let end = lines.forEach { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            condition.lock()
            stderrTail.append(text)
            if stderrTail.count > Self.stderrTailLines { stderrTail.removeFirst() }
            condition.unlock()
            handlers.stderr(self, text)
            return true
        }
        if end == .lineTooLong {
            // Keep draining so the child never blocks on a full stderr pipe.
            var sink = [UInt8](repeating: 0, count: 64 * 1024)
            while sink.withUnsafeMutableBytes({ read(child.stderrFD, $0.baseAddress, $0.count) }) > 0 {}
        }
        condition.lock()
        stderrDone = true
        condition.broadcast()
        condition.unlock()
    }
}
