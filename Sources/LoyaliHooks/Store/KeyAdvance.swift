/// What ``DeliveryStore/record(_:advancingKeysAtMs:)`` did for ordered delivery, beyond
/// recording: the deliveries it claimed because the attempts settled the head of their key, and
/// the sinks where a key's new head was left in the queue.
public struct KeyAdvance: Sendable {
    /// A delivery claimed as the new head of its key, and when it was created (the runner gives
    /// it to the lane whose creation window holds it).
    public struct Next: Sendable {
        /// The claimed delivery, `in_flight` under this node's lease.
        public var delivery: ClaimedDelivery
        /// Its creation time, ms since the Unix epoch.
        public var createdAtMs: Int64
    }

    /// The new heads claimed, at most one per settled key.
    public var claimed: [Next] = []
    /// Sinks (pipeline, sink) where a settled key's next delivery is its head now but was not
    /// claimed (not due yet, or being claimed elsewhere): their lanes should ask the store.
    public var waiting: [SinkName] = []

    /// A (pipeline, sink) pair.
    public struct SinkName: Sendable, Hashable {
        /// The pipeline's name.
        public var pipeline: String
        /// The sink's name.
        public var sink: String
    }

    /// Nothing claimed, nothing waiting.
    public init() {}
}
