import Foundation
import Synchronization

/// One loaded configuration of `serve` and the runner delivering for it, on a thread of its own.
///
/// After a reload the previous generation is retired: it stops reading its sources and finishes
/// the deliveries created under it (retries included), with the sink definitions it was loaded
/// with, while the new generation takes everything created from the switch on.
final class ServeGeneration: Sendable {
    /// 1 for the configuration loaded at start, +1 per reload.
    let number: Int
    /// Its runner.
    let runner: DeliveryRunner
    private let done = Wakeup()
    private let result = Mutex<DeliveryRunner.Counters?>(nil)
    private let finished = Atomic<Bool>(false)

    init(number: Int, runner: DeliveryRunner) {
        self.number = number
        self.runner = runner
    }

    /// Every pipeline definition its runner still uses: those running now, and those replaced
    /// by a reconfiguration whose lanes are still finishing.
    var pipelines: [PipelineDefinition] { runner.definitionsInUse }

    /// Starts the runner on its own thread; `onFinish` runs on that thread when it returns.
    func start(logger: Logger, onFinish: @escaping @Sendable (ServeGeneration) -> Void) {
        let thread = Thread { [self] in
            do {
                let counters = try runner.run()
                result.withLock { $0 = counters }
            } catch {
                logger.log(.error, "delivery runner failed", ["generation": String(number), "error": "\(error)"])
                result.withLock { $0 = runner.snapshot }
            }
            finished.store(true, ordering: .releasing)
            done.signal()
            onFinish(self)
        }
        thread.name = "loyali-hooks.generation-\(number)"
        thread.start()
    }

    /// Whether the runner has returned.
    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Waits until the runner returns or `deadline` passes; returns whether it returned.
    @discardableResult
    func wait(until deadline: Date) -> Bool {
        while !isFinished {
            guard Date() < deadline else { return false }
            done.wait(until: min(deadline, Date(timeIntervalSinceNow: 0.1)))
        }
        return true
    }

    /// The runner's counters: final once finished, live before.
    var counters: DeliveryRunner.Counters { result.withLock { $0 } ?? runner.snapshot }
}
