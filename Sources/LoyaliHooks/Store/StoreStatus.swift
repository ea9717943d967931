/// What `loyali-hooks store status` reports about a store.
public struct StoreStatus: Sendable, Hashable {
    /// The engine.
    public var engine: StoreEngine
    /// The database file, or the connection URL without its password.
    public var location: String
    /// The node the reading process acts as.
    public var nodeID: String
    /// The schema version the store holds.
    public var schemaVersion: Int
    /// How many deliveries are in each status, every status present.
    public var counts: [DeliveryStatus: Int]

    /// Makes a status from its parts.
    public init(engine: StoreEngine, location: String, nodeID: String, schemaVersion: Int, counts: [DeliveryStatus: Int]) {
        self.engine = engine
        self.location = location
        self.nodeID = nodeID
        self.schemaVersion = schemaVersion
        self.counts = counts
    }

    /// Deliveries in all statuses.
    public var total: Int { counts.values.reduce(0, +) }
}
