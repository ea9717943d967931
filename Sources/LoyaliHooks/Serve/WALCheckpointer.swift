import Foundation
import Synchronization

/// Checkpoints the state store's WAL on a thread and connection of its own.
///
/// SQLite normally checkpoints on the connection that commits: every 1,000 WAL pages the
/// committing thread copies the WAL into the database file and syncs it. Under group-committed
/// ingest that is an fsync stall on the ingest path every few tens of milliseconds. `serve` turns
/// the writer's automatic checkpoints down to a rare backstop and lets this thread run passive
/// checkpoints instead, which never block the writer.
final class WALCheckpointer: Sendable {
    private let store: DeliveryStore
    private let logger: Logger
    private let running = Atomic<Bool>(true)
    private let wakeup = Wakeup()
    private let finished = Wakeup()

    /// Opens its own connection to the store in `directory` and starts checkpointing every
    /// `interval`.
    init(directory: String, interval: Duration, logger: Logger) throws {
        store = try DeliveryStore(directory: directory)
        self.logger = logger
        let seconds = Double(interval.totalMilliseconds) / 1000
        let thread = Thread { [self] in
            var failures = 0
            while running.load(ordering: .relaxed) {
                wakeup.wait(until: Date(timeIntervalSinceNow: seconds))
                do {
                    try store.checkpointWAL()
                    failures = 0
                } catch {
                    failures += 1
                    // A busy database is normal now and then; only a persistent failure is news.
                    if failures == 20 { logger.log(.warn, "WAL checkpoints keep failing", ["error": "\(error)"]) }
                }
            }
            finished.signal()
        }
        thread.name = "loyali-hooks.checkpoint"
        thread.start()
    }

    /// Stops the thread (after one last checkpoint) and waits for it.
    func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        wakeup.signal()
        finished.wait(until: Date(timeIntervalSinceNow: 10))
    }
}
