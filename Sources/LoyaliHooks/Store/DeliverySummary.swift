/// One line of the delivery log.
public struct DeliverySummary: Sendable, Hashable {
    /// The `whd_` id.
    public var id: String
    /// The pipeline's name.
    public var pipeline: String
    /// The sink's name.
    public var sink: String
    /// The source event's id.
    public var eventID: String
    /// The event type.
    public var eventType: String
    /// Where it stands.
    public var status: DeliveryStatus
    /// Attempts made so far, across manual resends.
    public var attempts: Int
    /// When the delivery was made, ms since the Unix epoch.
    public var createdAtMs: Int64
    /// Its last change (enqueue, claim, attempt or resend), ms since the Unix epoch.
    public var updatedAtMs: Int64
    /// When the next attempt is due; `nil` unless pending or retrying.
    public var nextAttemptMs: Int64?
    /// The last failed attempt's error; cleared by a success.
    public var lastError: String?
    /// The last attempt's HTTP status, when it got a response.
    public var lastHTTPStatus: Int?

    /// Makes a summary from its parts.
    public init(
        id: String, pipeline: String, sink: String, eventID: String, eventType: String,
        status: DeliveryStatus, attempts: Int, createdAtMs: Int64, updatedAtMs: Int64,
        nextAttemptMs: Int64?, lastError: String?, lastHTTPStatus: Int?
    ) {
        self.id = id
        self.pipeline = pipeline
        self.sink = sink
        self.eventID = eventID
        self.eventType = eventType
        self.status = status
        self.attempts = attempts
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
        self.nextAttemptMs = nextAttemptMs
        self.lastError = lastError
        self.lastHTTPStatus = lastHTTPStatus
    }
}
