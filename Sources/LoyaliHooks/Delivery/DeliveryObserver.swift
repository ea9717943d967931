/// Told about every attempt the durable runner judges, on the runner's dispatch thread: `serve`
/// turns these into Prometheus metrics. Implementations must be quick and must not block.
public protocol DeliveryObserver: Sendable {
    /// One attempt of a delivery of `pipeline`/`sink` finished after `durationMs` and was judged
    /// `outcome` (succeeded, retry at a time, or failed for good).
    func attemptJudged(pipeline: String, sink: String, outcome: AttemptOutcome, durationMs: Int64)

    /// A sink's health changed (paused, resumed, disabled, enabled): told once per transition
    /// across every node sharing the store, by the node that made it or, for a change made by
    /// hand (`sinks enable|disable`, the admin API), by the first node that saw it.
    func sinkStateChanged(_ change: SinkStateChange)

    /// The store refused a write: `operation` is `enqueue` (new deliveries), `record` (judged
    /// attempts) or `claim`. Told once per failed store call, from the thread that made it.
    func storeWriteFailed(operation: String)
}

extension DeliveryObserver {
    /// By default, sink health changes are not observed.
    public func sinkStateChanged(_ change: SinkStateChange) {}

    /// By default, store write failures are not observed.
    public func storeWriteFailed(operation: String) {}
}
