/// Told about every attempt the durable runner judges, on the runner's dispatch thread: `serve`
/// turns these into Prometheus metrics. Implementations must be quick and must not block.
public protocol DeliveryObserver: Sendable {
    /// One attempt of a delivery of `pipeline`/`sink` finished after `durationMs` and was judged
    /// `outcome` (succeeded, retry at a time, or failed for good).
    func attemptJudged(pipeline: String, sink: String, outcome: AttemptOutcome, durationMs: Int64)
}
