/// The database behind a ``DeliveryStore``.
public enum StoreEngine: String, Sendable, Hashable, CaseIterable {
    /// One SQLite file in the state directory, for one node (the default).
    case sqlite
    /// A PostgreSQL database, shared by several nodes.
    case postgresql
}
