import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs one plugin (one manifest with one config) as `concurrency` long-lived processes and
/// multiplexes requests over them.
///
/// - **Start-up:** each process gets `{"type":"init","config":{…}}` and must answer
///   `{"type":"ready"}` within the manifest's `start_timeout`. ``start(logger:)`` does this for
///   every process and throws a ``PluginError`` (with the plugin's stderr) if one fails, which is
///   how a plugin that cannot start becomes a config-time error.
/// - **Requests** get ids and are pipelined: a batch is written to the processes in one go and the
///   replies are matched by id, in any order.
/// - **Supervision:** a process that exits, writes a line that is not a protocol message, or
///   leaves its oldest request unanswered for `timeout` is killed and restarted with exponential
///   backoff. Its oldest outstanding request, the one it was working on, fails with a clear
///   ``PluginError``; every other outstanding request is sent again, so nothing is lost.
/// - **Shutdown:** EOF on stdin, then SIGTERM after a grace period, then SIGKILL.
///
/// A watchdog thread enforces the timeouts and restarts; each process has its own I/O threads
/// (see ``PluginProcess``). Nothing here runs on Swift's cooperative pool.
public final class PluginSupervisor: @unchecked Sendable {
    // Every mutable property is read and written only while `lock` is held; completions run after
    // it is released. `manifest`, `config`, `environment` and `requestType` are immutable. That is
    // why the class is safe to share.

    /// A reply line (`{"id":…, …}`, its id already matched; see ``decode(_:)``), or why there is none.
    public typealias Reply = Result<[UInt8], PluginError>
    /// Receives one request's reply; called on a plugin thread (or the caller's, for errors).
    public typealias Completion = @Sendable (Reply) -> Void

    /// The plugin.
    public let manifest: PluginManifest
    /// The checked config sent with `init`.
    public let config: JSONObject
    /// The `type` of request messages: `transform` or `deliver`.
    public let requestType: String
    private let environment: [String: String]

    /// Shortest wait before a restart; it doubles with each consecutive failure.
    static let backoffBase = Duration.milliseconds(100)
    /// Longest wait before a restart.
    static let backoffCap = Duration.seconds(10)
    /// Failures in a row, without an answered request in between, after which a plugin's
    /// requests fail at once instead of each waiting for a restart of its own.
    static let crashLoopLimit = 3
    /// How long a dying process's stderr is awaited for the error message.
    static let stderrWait = Duration.milliseconds(200)

    private enum Phase {
        case idle, starting, started, shuttingDown, shutDown
    }

    private let lock = NSCondition()
    private var logger = Logger()
    private var phase = Phase.idle
    private var slots: [Slot]
    /// Requests waiting for a process to become ready.
    private var waiting: [Request] = []
    private var nextID = 1
    private var lastStartError: PluginError?
    private var watchdogStarted = false

    /// A supervisor for `manifest` with `config`; starts nothing until ``start(logger:)`` or the
    /// first request. `environment` is passed to the processes.
    public init(manifest: PluginManifest, config: JSONObject, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.manifest = manifest
        self.config = config
        self.requestType = manifest.kind == .transform ? "transform" : "deliver"
        var environment = environment
        environment["LOYALI_HOOKS_PLUGIN"] = manifest.name
        environment["LOYALI_HOOKS_WORKDIR"] = FileManager.default.currentDirectoryPath
        self.environment = environment
        self.slots = (0..<manifest.concurrency).map(Slot.init(index:))
    }

    deinit {
        for slot in slots { slot.process?.kill() }
    }

    /// Whether the processes are up (or being restarted) and serving requests.
    public var isStarted: Bool {
        lock.lock()
        defer { lock.unlock() }
        return phase == .started
    }

    // MARK: Start-up

    /// Starts every process and waits for each `ready`; does nothing when already started.
    /// Plugin stderr lines go to `logger`, tagged `plugin=NAME`.
    public func start(logger: Logger? = nil) throws(PluginError) {
        lock.lock()
        if let logger { self.logger = logger }
        while phase == .starting { lock.wait() }
        switch phase {
        case .started:
            lock.unlock()
            return
        case .shuttingDown, .shutDown:
            lock.unlock()
            throw PluginError(plugin: manifest.name, kind: .unavailable, message: "was shut down")
        case .idle, .starting:
            break
        }
        phase = .starting
        var completions: [(Target, Reply)] = []
        for slot in slots {
            slot.lastError = nil
            slot.consecutiveFailures = 0
            spawn(slot, completions: &completions)
        }
        startWatchdog()
        while slots.contains(where: { if case .starting = $0.state { true } else { false } }) { lock.wait() }
        if let failed = slots.first(where: { !$0.isRunning }) {
            let error = failed.lastError ?? PluginError(plugin: manifest.name, kind: .startFailed, message: "did not start")
            for slot in slots {
                slot.process?.kill()
                slot.state = .stopped
            }
            lastStartError = error
            phase = .idle
            lock.broadcast()
            lock.unlock()
            throw error
        }
        phase = .started
        let queued = waiting
        waiting = []
        dispatch(queued, completions: &completions)
        lock.broadcast()
        lock.unlock()
        for (target, reply) in completions { target.deliver(reply) }
    }

    /// Spawns a process for `slot` and sends it `init`. Lock held.
    private func spawn(_ slot: Slot, completions: inout [(Target, Reply)]) {
        let handlers = PluginProcess.Handlers(
            line: { [weak self] process, line in self?.handleLine(process, line) },
            overlongLine: { [weak self] process in
                self?.handleFailure(process, kind: .malformed, message: "wrote a line longer than \(PluginProcess.maxLineBytes) bytes")
            },
            stderr: { [weak self] process, text in self?.logStderr(process, text) },
            exit: { [weak self] process, termination in self?.handleExit(process, termination) })
        do {
            let process = try PluginProcess(
                slot: slot.index, argv: manifest.command, directory: manifest.directory, environment: environment,
                handlers: handlers)
            var line: [UInt8] = Array(#"{"type":"init","config":"#.utf8)
            JSONValue.object(config).serialize(into: &line)
            line += "}\n".utf8
            process.send(line)
            slot.answered = false
            slot.startupStderr = []
            slot.state = .starting(process, since: .now)
        } catch {
            startFailed(slot, PluginError(plugin: manifest.name, kind: .startFailed, message: "did not start: \(error)"), completions: &completions)
        }
    }

    /// A process failed to come up. Lock held.
    private func startFailed(_ slot: Slot, _ error: PluginError, completions: inout [(Target, Reply)]) {
        slot.process?.kill()
        slot.lastError = error
        slot.answered = false
        if phase == .starting {
            // Start-up is reported to the caller of start(); no restarts yet.
            slot.state = .stopped
            lock.broadcast()
            return
        }
        slot.consecutiveFailures += 1
        slot.startFailed = true
        lastStartError = error
        let delay = backoff(slot.consecutiveFailures)
        slot.state = phase == .started ? .restarting(at: .now + delay) : .stopped
        logger.log(.error, "plugin failed to restart", [
            "plugin": manifest.name, "error": error.description, "retry_in": delay.configDescription,
        ])
        // Nobody will serve the waiting requests soon: fail them rather than stall the pipeline.
        if !slots.contains(where: { $0.process != nil || $0.restartingAfterCrash }) {
            let failure = PluginError(
                plugin: manifest.name, kind: .unavailable, message: "could not be restarted: \(error.message)", stderr: error.stderr)
            completions += waiting.map { ($0.target, .failure(failure)) }
            waiting = []
        }
        lock.broadcast()
    }

    private func backoff(_ failures: Int) -> Duration {
        let factor = 1 << min(max(failures - 1, 0), 16)
        return min(Self.backoffBase * factor, Self.backoffCap)
    }

    // MARK: Requests

    /// Sends one request; `payload` is the rest of the message after its id, starting with a
    /// comma: `,"event":{…}}`. `completion` receives the reply object.
    public func send(_ payload: [UInt8], completion: @escaping Completion) {
        submit([Request(payload: payload[...], target: .callback(completion))])
    }

    /// Sends every request of a batch at once and waits for all replies, in request order. Each
    /// payload is what ``send(_:completion:)`` takes; slices of one buffer save an allocation per
    /// request.
    public func call(_ payloads: [ArraySlice<UInt8>]) -> [Reply] {
        guard !payloads.isEmpty else { return [] }
        let collector = ReplyCollector(count: payloads.count)
        submit(payloads.enumerated().map { index, payload in
            Request(payload: payload, target: .batch(collector, index))
        })
        return collector.wait()
    }

    private func submit(_ requests: [Request]) {
        if !isStarted {
            do {
                try start()
            } catch {
                for request in requests { request.target.deliver(.failure(error)) }
                return
            }
        }
        var completions: [(Target, Reply)] = []
        lock.lock()
        dispatch(requests, completions: &completions)
        lock.unlock()
        for (target, reply) in completions { target.deliver(reply) }
    }

    /// Hands requests to the running processes, least busy first, or parks them while a restart
    /// is due; fails them when the plugin cannot serve. Lock held.
    private func dispatch(_ requests: [Request], completions: inout [(Target, Reply)]) {
        guard !requests.isEmpty else { return }
        guard phase == .started else {
            let failure = PluginError(plugin: manifest.name, kind: .unavailable, message: "was shut down")
            completions += requests.map { ($0.target, .failure(failure)) }
            return
        }
        let running = slots.filter(\.isRunning)
        if running.isEmpty {
            if slots.contains(where: { $0.process != nil || $0.restartingAfterCrash }) {
                waiting += requests
            } else {
                let error = lastStartError
                let failure = PluginError(
                    plugin: manifest.name, kind: .unavailable,
                    message: "is unavailable: \(error?.message ?? "no process is running"); it is restarted with backoff",
                    stderr: error?.stderr ?? [])
                completions += requests.map { ($0.target, .failure(failure)) }
            }
            return
        }
        let chunkSize = (requests.count + running.count - 1) / running.count
        var start = 0
        while start < requests.count {
            let end = min(start + chunkSize, requests.count)
            let slot = running.min { $0.pending.count < $1.pending.count }!
            guard case .running(let process) = slot.state else { break }
            let firstID = nextID
            nextID += end - start
            for (offset, request) in requests[start..<end].enumerated() { slot.add(request, id: firstID + offset) }
            let type = requestType
            process.send { out in
                for (offset, request) in requests[start..<end].enumerated() {
                    out += #"{"type":""#.utf8
                    out += type.utf8
                    out += #"","id":"#.utf8
                    out += String(firstID + offset).utf8
                    out += request.payload
                    out.append(0x0A)
                }
            }
            start = end
        }
    }

    // MARK: Process events

    /// Why a reply line with a valid id could not be decoded.
    public struct MalformedReply: Error, Sendable, CustomStringConvertible {
        /// What is wrong with it.
        public var description: String
    }

    /// Decodes a reply line into its object.
    public static func decode(_ reply: [UInt8]) -> Result<JSONObject, MalformedReply> {
        do {
            guard case .object(let object) = try JSONParser.parse(reply) else {
                return .failure(MalformedReply(description: "the reply is not a JSON object"))
            }
            return .success(object)
        } catch {
            // A repeated key could carry a redacted field back in clear, so it is a bad reply too.
            let what = error.duplicateKey == nil ? "the reply is not valid JSON" : "the reply repeats a key"
            return .failure(MalformedReply(description: "\(what): \(error.reason) at column \(error.column)"))
        }
    }

    private func handleLine(_ process: PluginProcess, _ line: UnsafeBufferPointer<UInt8>) {
        // Only the id is read here; the reply is decoded by the thread that applies it.
        let id = ReplyID.find(in: line)
        var completions: [(Target, Reply)] = []
        lock.lock()
        let slot = slots[process.slot]
        guard slot.process === process else {
            lock.unlock()
            return
        }
        switch slot.state {
        case .starting:
            if (try? JSONParser.parse(line))?.objectValue?["type"] == .string("ready") {
                slot.state = .running(process)
                for text in slot.startupStderr { logger.log(.info, text, ["plugin": manifest.name]) }
                slot.startupStderr = []
                slot.lastProgress = .now
                if phase == .started {
                    logger.log(.info, "plugin restarted", ["plugin": manifest.name])
                    let queued = waiting
                    waiting = []
                    dispatch(queued, completions: &completions)
                }
                lock.broadcast()
            } else {
                let text = Self.excerpt(line)
                let stderr = process.stderrLines()
                startFailed(slot, PluginError(
                    plugin: manifest.name, kind: .startFailed,
                    message: "did not start: it answered '\(text)' to init instead of {\"type\":\"ready\"}", stderr: stderr),
                    completions: &completions)
            }
        case .running:
            guard let id else {
                let isObject = (try? JSONParser.parse(line))?.objectValue != nil
                let problem = isObject ? "a reply without a numeric \"id\"" : "a malformed line (not a JSON object)"
                failed(slot, kind: .malformed, message: "wrote \(problem): '\(Self.excerpt(line))'", completions: &completions)
                break
            }
            guard let request = slot.remove(id: id) else {
                failed(slot, kind: .malformed, message: "answered id \(id), which has no outstanding request: '\(Self.excerpt(line))'", completions: &completions)
                break
            }
            slot.lastProgress = .now
            slot.answered = true
            slot.consecutiveFailures = 0
            // The common path: one reply, delivered without collecting it first.
            lock.unlock()
            request.target.deliver(.success(Array(line)))
            return
        case .stopped, .restarting:
            break
        }
        lock.unlock()
        for (target, reply) in completions { target.deliver(reply) }
    }

    /// Runs `body` with the lock held and `process`'s slot, if `process` is still the one in that
    /// slot (a replaced process's late events are ignored), then delivers the replies `body`
    /// settled, after the lock is released.
    private func withSlot(of process: PluginProcess, _ body: (Slot, inout [(Target, Reply)]) -> Void) {
        var completions: [(Target, Reply)] = []
        lock.lock()
        let slot = slots[process.slot]
        if slot.process === process { body(slot, &completions) }
        lock.unlock()
        for (target, reply) in completions { target.deliver(reply) }
    }

    private func handleFailure(_ process: PluginProcess, kind: PluginError.Kind, message: String) {
        withSlot(of: process) { slot, completions in
            if case .starting = slot.state {
                startFailed(slot, PluginError(plugin: manifest.name, kind: .startFailed, message: "did not start: it \(message)"), completions: &completions)
            } else {
                failed(slot, kind: kind, message: message, completions: &completions)
            }
        }
    }

    private func handleExit(_ process: PluginProcess, _ termination: ChildProcess.Termination) {
        // Its last stderr lines explain the exit; they may trail the exit by a moment.
        let stderr = process.stderrLines(waitingUpTo: Self.stderrWait)
        withSlot(of: process) { slot, completions in
            switch (phase, slot.state) {
            case (.shuttingDown, _), (.shutDown, _):
                let failure = PluginError(plugin: manifest.name, kind: .unavailable, message: "exited during shutdown (it \(termination)) before answering", stderr: stderr)
                completions += slot.takePending().map { ($0.target, .failure(failure)) }
                slot.state = .stopped
                if termination != .exited(0) {
                    logger.log(.warn, "plugin exited abnormally at shutdown", ["plugin": manifest.name, "status": termination.description])
                }
                lock.broadcast()
            case (_, .starting):
                startFailed(slot, PluginError(
                    plugin: manifest.name, kind: .startFailed, message: "did not start: it \(termination) before answering ready",
                    stderr: stderr), completions: &completions)
            default:
                failed(slot, kind: .crashed, message: "crashed (it \(termination))", stderr: stderr, completions: &completions)
            }
        }
    }

    /// A working process failed: kill it, fail the request it was on, resend the others and
    /// schedule a restart. Lock held.
    private func failed(
        _ slot: Slot, kind: PluginError.Kind, message: String, stderr: [String] = [], completions: inout [(Target, Reply)]
    ) {
        slot.process?.kill()
        let outstanding = slot.takePending()
        if slot.answered { slot.consecutiveFailures = 0 }
        slot.consecutiveFailures += 1
        slot.answered = false
        let delay = backoff(slot.consecutiveFailures)
        slot.state = .restarting(at: .now + delay)
        // A plugin that fails again and again without answering would otherwise cost one restart
        // per request: after a few failures its other requests fail at once, and new ones fail
        // while it restarts, until a restarted process answers one.
        let crashLoop = slot.consecutiveFailures >= Self.crashLoopLimit
        slot.startFailed = crashLoop
        var failing = outstanding.prefix(1)
        var resent = outstanding.dropFirst()
        if let blamed = failing.first {
            let error = PluginError(
                plugin: manifest.name, kind: kind, message: "\(message) while handling this request; it was restarted", stderr: stderr)
            completions.append((blamed.target, .failure(error)))
        }
        if crashLoop {
            let error = PluginError(
                plugin: manifest.name, kind: kind,
                message: "failed \(slot.consecutiveFailures) times in a row without answering (last: \(message)); requests fail until a restart answers one",
                stderr: stderr)
            lastStartError = error
            completions += resent.map { ($0.target, .failure(error)) }
            failing = outstanding[...]
            resent = []
            if !slots.contains(where: { $0.process != nil || $0.restartingAfterCrash }) {
                completions += waiting.map { ($0.target, .failure(error)) }
                waiting = []
            }
        }
        var fields: [(String, String)] = [("plugin", manifest.name), ("error", message)]
        if let last = stderr.last { fields.append(("stderr", last)) }
        fields += [
            ("failed", String(failing.count)), ("resent", String(resent.count)), ("restart_in", delay.configDescription),
        ]
        logger.log(.error, "plugin failed; restarting it", fields: fields)
        dispatch(Array(resent), completions: &completions)
        lock.broadcast()
    }

    /// Logs a stderr line, tagged with the plugin's name. Until the process is ready its lines
    /// are held back: if it never gets ready they are part of the start-up error instead.
    private func logStderr(_ process: PluginProcess, _ text: String) {
        lock.lock()
        let slot = slots[process.slot]
        if slot.process === process, case .starting = slot.state {
            slot.startupStderr.append(text)
            lock.unlock()
            return
        }
        lock.unlock()
        logger.log(.info, text, ["plugin": manifest.name])
    }

    /// Up to 200 characters of a line, for messages.
    private static func excerpt(_ line: UnsafeBufferPointer<UInt8>) -> String {
        let text = String(decoding: line.prefix(200), as: UTF8.self)
        return line.count > 200 ? text + "…" : text
    }

    // MARK: Watchdog

    private func startWatchdog() {
        guard !watchdogStarted else { return }
        watchdogStarted = true
        let thread = Thread { [weak self] in
            while let supervisor = self, supervisor.watch() {}
        }
        thread.name = "loyali-hooks.plugin.watchdog"
        thread.start()
    }

    /// One round of the watchdog: enforce start and request timeouts, run due restarts, then
    /// sleep until the next deadline (at most a second). Returns `false` once shut down.
    private func watch() -> Bool {
        var completions: [(Target, Reply)] = []
        lock.lock()
        guard phase != .shutDown else {
            lock.unlock()
            return false
        }
        let now = ContinuousClock.now
        var next = now + .seconds(1)
        for slot in slots {
            switch slot.state {
            case .starting(let process, let since):
                let deadline = since + manifest.startTimeout
                if now >= deadline {
                    let stderr = process.stderrLines()
                    startFailed(slot, PluginError(
                        plugin: manifest.name, kind: .startFailed,
                        message: "did not start: no {\"type\":\"ready\"} within \(manifest.startTimeout.configDescription)",
                        stderr: stderr), completions: &completions)
                } else {
                    next = min(next, deadline)
                }
            case .running:
                guard !slot.pending.isEmpty else { continue }
                let deadline = slot.lastProgress + manifest.timeout
                if now >= deadline {
                    failed(slot, kind: .timedOut, message: "did not answer within \(manifest.timeout.configDescription) (timeout)", completions: &completions)
                } else {
                    next = min(next, deadline)
                }
            case .restarting(let at):
                if phase == .started, now >= at {
                    spawn(slot, completions: &completions)
                } else {
                    next = min(next, at)
                }
            case .stopped:
                continue
            }
        }
        if completions.isEmpty {
            _ = lock.wait(until: Date(timeIntervalSinceNow: Self.seconds(next - .now)))
        }
        lock.unlock()
        for (target, reply) in completions { target.deliver(reply) }
        return true
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return max(0, Double(seconds) + Double(attoseconds) / 1e18)
    }

    // MARK: Shutdown

    /// Stops every process: EOF on stdin first, SIGTERM to its process group if it is still
    /// running after `grace`, SIGKILL after another `grace`. Requests still waiting fail. Blocks
    /// until the processes are gone.
    public func shutdown(grace: Duration = .seconds(2)) {
        var completions: [(Target, Reply)] = []
        lock.lock()
        guard phase != .shuttingDown, phase != .shutDown else {
            lock.unlock()
            return
        }
        phase = .shuttingDown
        let failure = PluginError(plugin: manifest.name, kind: .unavailable, message: "was shut down")
        completions += waiting.map { ($0.target, .failure(failure)) }
        waiting = []
        for slot in slots {
            if let process = slot.process {
                process.finishInput()
            } else {
                slot.state = .stopped
            }
        }
        for (signal, name) in [(SIGTERM, "SIGTERM"), (SIGKILL, "SIGKILL")] {
            let deadline = Date(timeIntervalSinceNow: Self.seconds(grace))
            while slots.contains(where: { $0.process != nil }) {
                if !lock.wait(until: deadline) { break }
            }
            let remaining = slots.compactMap(\.process)
            if remaining.isEmpty { break }
            let previous = signal == SIGTERM ? "EOF on stdin" : "SIGTERM"
            logger.log(.warn, "plugin still running \(grace.configDescription) after \(previous); sending \(name)", ["plugin": manifest.name])
            for process in remaining { process.child.signalGroup(signal) }
        }
        // SIGKILL cannot be refused; its exit arrives promptly.
        let last = Date(timeIntervalSinceNow: 5)
        while slots.contains(where: { $0.process != nil }) {
            if !lock.wait(until: last) { break }
        }
        for slot in slots {
            completions += slot.takePending().map { ($0.target, .failure(failure)) }
            slot.state = .stopped
        }
        phase = .shutDown
        lock.broadcast()
        lock.unlock()
        for (target, reply) in completions { target.deliver(reply) }
    }
}
