/// What ``DeliveryStore/resendReporting(ids:nowMs:)`` did with each id, each list in the order given and
/// without repeats.
public struct ResendResult: Sendable, Equatable {
    /// Queued for a fresh attempt.
    public var queued: [String] = []
    /// Known, but in flight: the only deliveries the store refuses to queue.
    public var inFlight: [String] = []
    /// Not in the store.
    public var unknown: [String] = []
}
