/// One event on its way through a pipeline: the envelope fields receivers rely on, plus the
/// `data` payload that transform steps may reshape.
///
/// The delivered body adds the per-sink delivery id in front; see ``EnvelopeEncoder``.
public struct EventEnvelope: Sendable, Equatable {
    /// The source event id (`evt_…`), given by the producer or derived from the line's hash.
    public let eventID: String
    /// The catalogue event type, e.g. `points.earned`.
    public let eventType: String
    /// RFC 3339 timestamp, exactly as received (or the ingest time).
    public let createdAt: String
    /// The event-specific payload; always an object.
    public var data: JSONValue

    public init(eventID: String, eventType: String, createdAt: String, data: JSONValue) {
        self.eventID = eventID
        self.eventType = eventType
        self.createdAt = createdAt
        self.data = data
    }
}
