/// A state-store failure that is not an engine's own error (SQLite's, PostgreSQL's): a database
/// from a newer build, a state directory that cannot be created, a delivery that cannot be
/// stored, a `--store` that names no engine this build has.
///
/// Prints like a compiler: `.loyali-hooks/loyali-hooks.db: error: state database was written by a
/// newer loyali-hooks (schema 3, this build knows 2)`.
public struct DeliveryStoreError: StoreEngineError, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for callers that branch on it.
    public enum Kind: Sendable, Hashable {
        /// The database's `user_version` is newer than any migration this build knows.
        case schemaTooNew(found: Int, known: Int)
        /// A read command found a schema older than this build's; read commands never migrate.
        case schemaTooOld(found: Int, needed: Int)
        /// The state directory is missing and could not be created.
        case cannotCreateDirectory
        /// A command that only reads or changes existing state found no state directory, or no
        /// database in it; nothing was created.
        case noState
        /// A `NewDelivery` breaks a rule the store relies on (e.g. an empty retry schedule).
        case invalidDelivery(id: String)
        /// An attempt was recorded for a delivery id the store does not hold.
        case unknownDelivery(id: String)
        /// `--store` (or `LOYALI_HOOKS_STORE`) is not a store location this build understands.
        case invalidLocation
        /// The store's engine is not available in this build.
        case engineUnavailable(StoreEngine)
    }

    /// The kind of failure.
    public var kind: Kind
    /// The database file or state directory concerned.
    public var path: String
    /// One sentence saying what is wrong.
    public var message: String

    /// Makes an error from its parts.
    public init(_ kind: Kind, path: String, message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    /// `nil`: none of these says the store cannot take writes for now.
    public var unavailableReason: String? { nil }

    /// `path: error: message`.
    public var description: String { "\(path): error: \(message)" }

    /// The database was written by a newer build.
    static func schemaTooNew(found: Int, known: Int, path: String) -> DeliveryStoreError {
        DeliveryStoreError(
            .schemaTooNew(found: found, known: known), path: path,
            message: "state database was written by a newer loyali-hooks (schema \(found), this build knows \(known))")
    }

    /// A read command met a schema it would have to migrate first, which it never does.
    static func schemaTooOld(found: Int, needed: Int, path: String) -> DeliveryStoreError {
        DeliveryStoreError(
            .schemaTooOld(found: found, needed: needed), path: path,
            message: "the store's schema is version \(found) and this build reads version \(needed); read commands never migrate a store: "
                + "start 'serve' or 'run' of this build on it (they migrate it), or read it with the build that wrote it")
    }
}
