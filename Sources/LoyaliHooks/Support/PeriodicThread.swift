import Foundation
import Synchronization

/// A dedicated thread that runs some work every interval, and once more when it is stopped: the
/// shape of `serve`'s background chores (the slow-connection reaper, the pipeline watcher, the
/// WAL checkpointer), which block on I/O and so stay off Swift's cooperative pool.
final class PeriodicThread: Sendable {
    private let running = Atomic<Bool>(true)
    private let wakeup = Wakeup()
    private let finished = Wakeup()

    /// Starts the thread. `tick` runs after each `interval`, and a last time, with `stopping`
    /// true, as soon as ``stop(waitingUpTo:)`` is called.
    init(name: String, interval: Duration, tick: @escaping @Sendable (_ stopping: Bool) -> Void) {
        let seconds = Double(interval.totalMilliseconds) / 1000
        let thread = Thread { [self] in
            while true {
                if running.load(ordering: .relaxed) { wakeup.wait(until: Date(timeIntervalSinceNow: seconds)) }
                let stopping = !running.load(ordering: .relaxed)
                tick(stopping)
                if stopping { break }
            }
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Stops the thread after its last tick, waiting for it up to `timeout`. Later calls return
    /// at once.
    func stop(waitingUpTo timeout: Duration) {
        guard running.exchange(false, ordering: .relaxed) else { return }
        wakeup.signal()
        finished.wait(until: Date(timeIntervalSinceNow: Double(timeout.totalMilliseconds) / 1000))
    }
}
