/// One attempt from the log, as `DeliveryStore.detail` returns it for the timeline.
public struct AttemptRow: Sendable, Hashable {
    /// The delivery's `whd_` id.
    public var deliveryID: String
    /// The attempt's number, 1-based.
    public var attempt: Int
    /// When it started, ms since the Unix epoch.
    public var startedAtMs: Int64
    /// How long it took, in ms.
    public var durationMs: Int64
    /// The HTTP status, when a response arrived.
    public var httpStatus: Int?
    /// The failure's class, e.g. `timeout`.
    public var errorClass: String?
    /// The failure in words.
    public var errorMessage: String?
    /// The start of the response body.
    public var responseSnippet: String?
    /// What the runner decided; `.retry(atMs:)` carries when the next attempt was due.
    public var outcome: AttemptOutcome

    /// Makes a row from its parts.
    public init(
        deliveryID: String, attempt: Int, startedAtMs: Int64, durationMs: Int64,
        httpStatus: Int?, errorClass: String?, errorMessage: String?, responseSnippet: String?,
        outcome: AttemptOutcome
    ) {
        self.deliveryID = deliveryID
        self.attempt = attempt
        self.startedAtMs = startedAtMs
        self.durationMs = durationMs
        self.httpStatus = httpStatus
        self.errorClass = errorClass
        self.errorMessage = errorMessage
        self.responseSnippet = responseSnippet
        self.outcome = outcome
    }
}
