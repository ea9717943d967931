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
    private let thread: PeriodicThread

    /// Opens its own connection to the store in `directory` and starts checkpointing every
    /// `interval`.
    init(directory: String, interval: Duration, logger: Logger) throws {
        let store = try SQLiteDeliveryStore(directory: directory)
        let failures = Atomic<Int>(0)
        thread = PeriodicThread(name: "loyali-hooks.checkpoint", interval: interval) { _ in
            do {
                try store.checkpointWAL()
                failures.store(0, ordering: .relaxed)
            } catch {
                // A busy database is normal now and then; only a persistent failure is news.
                if failures.add(1, ordering: .relaxed).newValue == 20 {
                    logger.log(.warn, "WAL checkpoints keep failing", ["error": "\(error)"])
                }
            }
        }
    }

    /// Stops the thread (after one last checkpoint) and waits for it.
    func stop() {
        thread.stop(waitingUpTo: .seconds(10))
    }
}
