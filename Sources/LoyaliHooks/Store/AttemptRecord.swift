/// One finished attempt, as the runner reports it to ``DeliveryStore/record(_:)``.
public struct AttemptRecord: Sendable, Hashable {
    /// The `error_class` of an attempt cut off by a stop, a crash or a lease that ran out.
    public static let interruptedErrorClass = "interrupted"

    /// The delivery's `whd_` id.
    public var deliveryID: String
    /// The attempt's number, 1-based (`ClaimedDelivery.attempt`).
    public var attempt: Int
    /// When the attempt started, ms since the Unix epoch.
    public var startedAtMs: Int64
    /// How long it took, in ms.
    public var durationMs: Int64
    /// The HTTP status, when a response arrived.
    public var httpStatus: Int?
    /// The failure's class when there was no usable response, e.g. `timeout`, `connection_refused`,
    /// `tls`, `dns`, `too_large`, `io`.
    public var errorClass: String?
    /// The failure in words.
    public var errorMessage: String?
    /// The start of the response body, capped by the sink.
    public var responseSnippet: String?
    /// What happens next.
    public var outcome: AttemptOutcome
    /// The node that made the attempt. The runner leaves it `nil` and the store records its own
    /// ``DeliveryStore/nodeID``; the log gives it back (`nil` for attempts logged before nodes
    /// were recorded).
    public var node: String?

    /// Makes a record from its parts.
    public init(
        deliveryID: String, attempt: Int, startedAtMs: Int64, durationMs: Int64,
        httpStatus: Int? = nil, errorClass: String? = nil, errorMessage: String? = nil,
        responseSnippet: String? = nil, outcome: AttemptOutcome, node: String? = nil
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
        self.node = node
    }

    /// The delivery's `last_error` after this attempt: class, HTTP status and message, or `nil`
    /// on success.
    var summarizedError: String? {
        if case .succeeded = outcome { return nil }
        let parts = [errorClass, httpStatus.map { "HTTP \($0)" }, errorMessage].compactMap { $0 }
        return parts.isEmpty ? "failed" : parts.joined(separator: ": ")
    }
}
