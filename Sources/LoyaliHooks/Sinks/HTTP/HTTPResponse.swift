/// What became of one ``HTTPRequest``: the receiver's answer, or why there was none.
public struct HTTPResponse: Sendable, Equatable {
    /// The two ways an exchange ends.
    public enum Outcome: Sendable, Equatable {
        /// The receiver answered with `status`. Any status counts here, 3xx and 5xx included:
        /// deciding what it means for the delivery is the caller's job.
        /// - `retryAfter`: the raw `Retry-After` value, if the response had one.
        /// - `bodySnippet`: the first `maxResponseBytes` bytes of the body.
        /// - `truncated`: the body was longer than the cap, and the rest was not read.
        case response(status: Int, retryAfter: String?, bodySnippet: [UInt8], truncated: Bool)
        /// No complete answer: the connection, TLS, the deadline or the response itself failed.
        case failure(HTTPTransportError)
    }

    /// The answer or the failure.
    public var outcome: Outcome
    /// Wall time from the moment the transfer started to its end, in milliseconds.
    public var durationMs: Int64

    /// A response with this outcome and duration.
    public init(outcome: Outcome, durationMs: Int64) {
        self.outcome = outcome
        self.durationMs = durationMs
    }

    /// The HTTP status, when the receiver answered.
    public var status: Int? {
        if case .response(let status, _, _, _) = outcome { return status }
        return nil
    }

    /// The transport failure, when there was no answer.
    public var error: HTTPTransportError? {
        if case .failure(let error) = outcome { return error }
        return nil
    }
}
