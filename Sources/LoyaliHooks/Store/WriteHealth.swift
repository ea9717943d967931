import Synchronization

/// Whether a store's writes are going through: the reason the last write transaction failed
/// because the store could not take writes at all (a full disk, an I/O error, a read-only file,
/// a lost database connection), or `nil` once one succeeds again. `serve`'s `/readyz` answers
/// 503, and its ingest refuses events, while it is set.
///
/// Kept apart from the connection's lock, which a writer holds across its commit: a probe must
/// answer at once even while the disk or the database is stuck.
public final class WriteHealth: Sendable {
    private let failure = Mutex<String?>(nil)

    /// A health that has seen no failure.
    public init() {}

    /// Why writes are failing, or `nil` while they succeed.
    public var current: String? { failure.withLock { $0 } }

    /// Notes the outcome of one write transaction. Errors that say nothing about the store's
    /// availability (a constraint, a busy timeout) leave the state as it was.
    public func note(_ error: (any Error)?) {
        guard let error else {
            failure.withLock { $0 = nil }
            return
        }
        guard let reason = Self.unavailability(of: error) else { return }
        failure.withLock { $0 = reason }
    }

    /// Whether `error` says the store cannot be written at all (so the same write may succeed
    /// later, once there is room or the database is back), rather than that this write was wrong.
    public static func isStoreUnavailable(_ error: any Error) -> Bool {
        unavailability(of: error) != nil
    }

    /// Why the store is unavailable, when `error` is an engine error saying so.
    static func unavailability(of error: any Error) -> String? {
        (error as? any StoreEngineError)?.unavailableReason
    }
}

/// An error thrown by a store engine (SQLite's, PostgreSQL's, or ``DeliveryStoreError``). It tells
/// "the store cannot take writes now" from "this write was wrong": the runner keeps retrying the
/// first kind, and ``WriteHealth`` reports it.
public protocol StoreEngineError: Error {
    /// Why the store cannot be written now (a full disk, a lost connection), or `nil` when the
    /// error says nothing about the store's availability.
    var unavailableReason: String? { get }
}
