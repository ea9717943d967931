/// One signed attempt at delivering one event to one sink: exactly what goes on the wire (or into
/// the file, or what `--dry-run` prints).
public struct DeliveryRequest: Sendable {
    /// The pipeline's name.
    public var pipeline: String
    /// The sink's name within the pipeline.
    public var sink: String
    /// The `whd_` id, stable across retries.
    public var deliveryID: String
    /// The source event id.
    public var eventID: String
    /// The event type.
    public var eventType: String
    /// 1-based attempt number.
    public var attempt: Int
    /// Headers in send order, signature included.
    public var headers: [HTTPHeader]
    /// The exact body bytes that were signed.
    public var body: [UInt8]

    public init(
        pipeline: String, sink: String, deliveryID: String, eventID: String, eventType: String,
        attempt: Int, headers: [HTTPHeader], body: [UInt8]
    ) {
        self.pipeline = pipeline
        self.sink = sink
        self.deliveryID = deliveryID
        self.eventID = eventID
        self.eventType = eventType
        self.attempt = attempt
        self.headers = headers
        self.body = body
    }
}
