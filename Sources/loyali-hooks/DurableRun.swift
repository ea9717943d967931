import Foundation
import LoyaliHooks

/// `run` without `--dry-run`: the store, the delivery runner, signals, progress and the summary.
enum DurableRun {
    /// Runs `pipelines` for real. `RunCommand` has checked every flag; `grace` is `--grace`'s.
    static func run(
        _ args: Arguments, pipelines: [PipelineDefinition], input: LoyaliHooks.InputStream?, rejects: String?,
        logFormat: Logger.Format, grace: Duration?
    ) throws(CLIError) {
        var options = DeliveryRunner.Options()
        options.mode = args.has("--once") ? .once : args.has("--drain") ? .drain : .follow
        options.input = input
        options.rejectsPath = rejects
        if let grace { options.grace = grace }
        let limits = try ConnectionOptions.install(args)
        // The store flags are checked before anything is created.
        let location = try StateOptions.location(args)
        let storeOptions = try StateOptions.storeOptions(args)
        // One runner per SQLite store, checked before anything starts (see StateDirectoryLock).
        let lock = try StateOptions.lockForRunner(location)
        defer { withExtendedLifetime(lock) {} }
        // Delivering: a closed log or stdout pipe must not end it (see StandardStream).
        StandardStream.ignoreBrokenPipes()
        // Log lines go through the status line, which clears the progress line before each one.
        let status = StatusLine { StandardStream.write($0, to: 2) }
        let logger = Logger(format: logFormat, write: status.log)
        if let warning = ConnectionOptions.warning(limits, pipelines: pipelines) { logger.log(.warn, warning) }
        let startErrors = PluginRuntime.start(pipelines, includingSinks: true, logger: logger)
        defer { PluginRuntime.shutdown(pipelines) }
        Reports.diagnostics(startErrors, json: false)
        guard startErrors.isEmpty else { throw .config }
        let store = try StateOptions.openStore(location, options: storeOptions)
        let runner = DeliveryRunner(pipelines: pipelines, store: store, options: options, logger: logger)
        let grace = options.grace.configDescription
        let signals = SignalTrap([SIGINT, SIGTERM]) {
            logger.log(.info, "stop requested; finishing in-flight deliveries", ["grace": grace])
            runner.requestStop()
        }
        let progress = ProgressLine(runner: runner, status: status)
        let counters: DeliveryRunner.Counters
        do {
            counters = try runner.run()
        } catch {
            progress.stop()
            throw .failed("error: \(error)")
        }
        progress.stop()
        _ = signals
        Terminal.err(Reports.countersLine(counters))
        // A paused or disabled sink's deliveries were neither sent nor failed: say where they wait.
        let configured = Set(pipelines.flatMap { pipeline in pipeline.sinks.map { "\(pipeline.name)/\($0.name)" } })
        for state in (try? store.sinkStates()) ?? [] where state.status != .healthy && configured.contains("\(state.pipeline)/\(state.sink)") {
            Terminal.err("sink \(state.pipeline)/\(state.sink) is \(state.summary) (\(state.reason)): its deliveries wait; see 'loyali-hooks sinks'")
        }
        // A source that could not be read or a store that could not be written is a failed run.
        let reasons = runner.failureReasons
        if !reasons.isEmpty { throw .failed(reasons.map { "error: run failed: \($0)" }.joined(separator: "\n")) }
        if counters.rejected > 0 || counters.failed > 0 || counters.transformFailures > 0 { throw .failed("") }
    }
}

/// Turns signals into a callback on a Dispatch queue instead of an async-signal handler.
final class SignalTrap {
    private let sources: [any DispatchSourceSignal]

    init(_ signals: [Int32], handler: @escaping @Sendable () -> Void) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }
}

/// On a terminal, a live line on stderr: events read, delivered, deliveries retrying, failed and
/// the rate. Log lines are written above it (see ``StatusLine``).
final class ProgressLine {
    private let timer: (any DispatchSourceTimer)?
    private let status: StatusLine

    init(runner: DeliveryRunner, status: StatusLine) {
        self.status = status
        guard isatty(2) == 1 else {
            timer = nil
            return
        }
        let start = Date()
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250))
        timer.setEventHandler {
            let c = runner.snapshot
            let elapsed = max(Date().timeIntervalSince(start), 0.001)
            status.show(
                "⏳ \(Plural.count(c.eventsRead, "event")) · \(c.delivered) delivered · \(c.retryingDeliveries) retrying · "
                    + "\(c.failed) failed · \(Int(Double(c.delivered) / elapsed))/s")
        }
        timer.resume()
        self.timer = timer
    }

    func stop() {
        timer?.cancel()
        status.remove()
    }
}
