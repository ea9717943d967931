/// What one attempt produced, before the retry policy judges it.
public enum AttemptResult: Sendable, Equatable {
    /// The receiver answered with an HTTP status (any, including 2xx and 3xx).
    case httpStatus(Int, retryAfter: String?, snippet: String)
    /// A local sink (file, stdout) or plugin accepted the delivery.
    case accepted
    /// The attempt failed before any status: timeout, refused, TLS, I/O, plugin error…
    case failure(DeliveryFailure)

    /// Only 2xx (or a local sink's acceptance) counts as delivered; a 3xx is never followed.
    public var isSuccess: Bool {
        switch self {
        case .httpStatus(let status, _, _): (200...299).contains(status)
        case .accepted: true
        case .failure: false
        }
    }
}
