/// Where a delivery stands. The raw values are what the database and `--status` use.
public enum DeliveryStatus: String, Sendable, Hashable, CaseIterable {
    /// Waiting for its first attempt (or for the first attempt after a manual resend).
    case pending
    /// At least one attempt failed; waiting for the next one on the schedule.
    case retrying
    /// Claimed by a runner and being sent. After a crash it goes back to pending or retrying.
    case inFlight = "in_flight"
    /// An attempt succeeded.
    case succeeded
    /// Every scheduled attempt failed (or the receiver said 410 Gone); resendable by hand.
    case failed
}
