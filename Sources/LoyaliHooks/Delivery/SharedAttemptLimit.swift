/// A cap on attempts in flight that several sinks share, on top of each sink's own
/// `max_in_flight`: every `http` sink pointing at one destination (scheme, host, port) through
/// one transport shares that destination's connection cap.
///
/// The runner hands a destination no more attempts than this at once and keeps the rest as
/// claimed deliveries (or in the store), taking turns among the sinks that wait for it. Without
/// it, 1,000 sinks of 32 in flight each on one host capped at 32 connections queued 32,000
/// signed requests inside the transport, each holding its body and headers.
public struct SharedAttemptLimit: Hashable, Sendable {
    /// Sinks with equal keys share the limit.
    public var key: String
    /// Attempts in flight at once across those sinks, at most.
    public var limit: Int

    /// A limit of `limit` (at least 1) shared by every sink whose limit has `key`.
    public init(key: String, limit: Int) {
        self.key = key
        self.limit = max(1, limit)
    }
}
