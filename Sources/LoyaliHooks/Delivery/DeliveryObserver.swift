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

    /// `change` more operational events (fewer when negative) wait in memory for the store to
    /// take them, after it refused them. Told from a runner's store thread; the sum over the
    /// calls is the number waiting.
    func operationalEventsWaiting(change: Int)

    /// `count` operational events were given up: more were waiting than are kept, or the run
    /// ended while the store still refused them. They reach no operational pipeline.
    func operationalEventsDropped(_ count: Int)
}

extension DeliveryObserver {
    /// By default, sink health changes are not observed.
    public func sinkStateChanged(_ change: SinkStateChange) {}

    /// By default, store write failures are not observed.
    public func storeWriteFailed(operation: String) {}

    /// By default, operational events waiting for the store are not observed.
    public func operationalEventsWaiting(change: Int) {}

    /// By default, operational events given up are not observed.
    public func operationalEventsDropped(_ count: Int) {}
}
