/// A filter over the delivery log (`loyali-hooks deliveries`, `resend --failed`). `nil` fields
/// match everything.
public struct DeliveryQuery: Sendable, Hashable {
    /// Only deliveries in this status.
    public var status: DeliveryStatus?
    /// Only this pipeline.
    public var pipeline: String?
    /// Only this sink (by name; combine with `pipeline` to pick one pipeline's sink).
    public var sink: String?
    /// Only this event type.
    public var eventType: String?
    /// Only deliveries with activity (created, attempted or resent) at or after this time, ms
    /// since the Unix epoch.
    public var sinceMs: Int64?
    /// At most this many rows (`list` only).
    public var limit: Int

    /// Makes a query; with no arguments it lists the 50 most recent deliveries.
    public init(
        status: DeliveryStatus? = nil, pipeline: String? = nil, sink: String? = nil,
        eventType: String? = nil, sinceMs: Int64? = nil, limit: Int = 50
    ) {
        self.status = status
        self.pipeline = pipeline
        self.sink = sink
        self.eventType = eventType
        self.sinceMs = sinceMs
        self.limit = limit
    }
}
