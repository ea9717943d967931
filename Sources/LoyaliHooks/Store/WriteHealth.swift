import CSQLite
import Synchronization

/// Whether a store's writes are going through: the reason the last write transaction failed for
/// want of room or a working disk (`SQLITE_FULL`, an I/O error, a read-only or corrupt file), or
/// `nil` once one succeeds again. `serve`'s `/readyz` answers 503 while it is set.
///
/// Kept apart from the connection's lock, which a writer holds across its fsync: a probe must
/// answer at once even while the disk is stuck.
final class WriteHealth: Sendable {
    private let failure = Mutex<String?>(nil)

    /// Why writes are failing, or `nil` while they succeed.
    var current: String? { failure.withLock { $0 } }

    /// Notes the outcome of one write transaction. Errors that say nothing about the disk (a
    /// constraint, a busy timeout) leave the state as it was.
    func note(_ error: (any Error)?) {
        guard let error else {
            failure.withLock { $0 = nil }
            return
        }
        guard Self.isDiskFailure(error), let sqlite = error as? SQLiteError else { return }
        failure.withLock { $0 = "SQLite error \(sqlite.code) (\(sqlite.message))" }
    }

    /// Whether `error` says the store cannot be written at all (so the same write may succeed
    /// later, once there is room), rather than that this write was wrong.
    static func isDiskFailure(_ error: any Error) -> Bool {
        guard let sqlite = error as? SQLiteError else { return false }
        return diskCodes.contains(sqlite.code)
    }

    /// Primary result codes that mean the store cannot be written at all.
    private static let diskCodes: Set<Int32> = [SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_CORRUPT, SQLITE_NOTADB]
}
