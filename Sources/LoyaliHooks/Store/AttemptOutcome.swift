/// What the runner decided after an attempt; the store applies it without second-guessing.
public enum AttemptOutcome: Sendable, Hashable {
    /// The attempt succeeded; the delivery is finished.
    case succeeded
    /// The attempt failed; try again at `atMs` (ms since the Unix epoch).
    case retry(atMs: Int64)
    /// The attempt failed and there will be no more: the delivery is `failed`, resendable by hand.
    case failed

    /// The name stored in the attempt log.
    var storedName: String {
        switch self {
        case .succeeded: "succeeded"
        case .retry: "retry"
        case .failed: "failed"
        }
    }

    /// The delivery status this outcome leaves behind.
    var resultingStatus: DeliveryStatus {
        switch self {
        case .succeeded: .succeeded
        case .retry: .retrying
        case .failed: .failed
        }
    }

    /// Whether the delivery is settled (succeeded or failed for good): the next delivery of its
    /// ordering key may go.
    var settles: Bool {
        if case .retry = self { return false }
        return true
    }

    /// When the next attempt is due, for `.retry`.
    var nextAttemptMs: Int64? {
        if case .retry(let atMs) = self { return atMs }
        return nil
    }

    /// Rebuilds an outcome from the attempt log.
    init?(storedName: String, nextAttemptMs: Int64?) {
        switch storedName {
        case "succeeded": self = .succeeded
        case "failed": self = .failed
        case "retry":
            guard let nextAttemptMs else { return nil }
            self = .retry(atMs: nextAttemptMs)
        default: return nil
        }
    }
}
