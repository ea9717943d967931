/// The guide's health figures for one (pipeline, sink) over a time window.
public struct SinkStats: Sendable, Hashable {
    /// Where a health window starting at `sinceMs` starts for `stats` and the dashboard: at the
    /// start of its minute. The figures then come from the maintained aggregates alone (minute and
    /// hour rows, no rows of the outbox at the edge), and two reads in the same minute, such as
    /// the overview and `stats --json`, cover the same window.
    public static func windowStart(sinceMs: Int64) -> Int64 {
        RollupSQL.floor(sinceMs, RollupSQL.minuteMs)
    }

    /// The pipeline's name.
    public var pipeline: String
    /// The sink's name.
    public var sink: String
    /// Deliveries with activity in the window.
    public var total: Int
    /// Of those, succeeded.
    public var succeeded: Int
    /// Of those, failed (the guide's "failed deliveries"; healthy is 0).
    public var failed: Int
    /// Of those, waiting for a first attempt.
    public var pending: Int
    /// Of those, waiting for a retry.
    public var retrying: Int
    /// Of those, being sent right now.
    public var inFlight: Int
    /// Of those, deliveries with at least one attempt.
    public var attempted: Int
    /// Of those, deliveries that needed more than one attempt.
    public var retried: Int
    /// Attempts started in the window (the population of the latency percentiles).
    public var attemptCount: Int
    /// succeeded / (succeeded + failed); `nil` when none has finished. Healthy above 0.99.
    public var successRate: Double?
    /// retried / attempted; `nil` when nothing was attempted. Healthy below 0.05.
    public var retryRate: Double?
    /// Attempt duration percentiles in ms (nearest rank); `nil` without attempts. Healthy < 500.
    public var latencyP50Ms: Int64?
    /// 95th percentile attempt duration in ms.
    public var latencyP95Ms: Int64?
    /// 99th percentile attempt duration in ms.
    public var latencyP99Ms: Int64?

    /// Makes stats from their parts.
    public init(
        pipeline: String, sink: String, total: Int, succeeded: Int, failed: Int, pending: Int,
        retrying: Int, inFlight: Int, attempted: Int, retried: Int, attemptCount: Int,
        successRate: Double?, retryRate: Double?,
        latencyP50Ms: Int64?, latencyP95Ms: Int64?, latencyP99Ms: Int64?
    ) {
        self.pipeline = pipeline
        self.sink = sink
        self.total = total
        self.succeeded = succeeded
        self.failed = failed
        self.pending = pending
        self.retrying = retrying
        self.inFlight = inFlight
        self.attempted = attempted
        self.retried = retried
        self.attemptCount = attemptCount
        self.successRate = successRate
        self.retryRate = retryRate
        self.latencyP50Ms = latencyP50Ms
        self.latencyP95Ms = latencyP95Ms
        self.latencyP99Ms = latencyP99Ms
    }
}
