/// One bucket of the dashboard's charts: attempts started in [start, start + width) by outcome,
/// and their latency.
public struct SeriesBucket: Sendable, Equatable {
    /// The bucket's start, ms since the Unix epoch.
    public var startMs: Int64
    /// Attempts that delivered.
    public var succeeded: Int
    /// Attempts that failed and were scheduled again.
    public var retried: Int
    /// Attempts that failed for good (interrupted ones included).
    public var failed: Int
    /// Nearest-rank percentiles of the bucket's attempt durations; `nil` when it had none.
    public var latencyP50Ms: Int64?
    /// 95th percentile.
    public var latencyP95Ms: Int64?

    /// An empty bucket starting at `startMs`.
    public init(startMs: Int64) {
        self.startMs = startMs
        succeeded = 0
        retried = 0
        failed = 0
    }
}
