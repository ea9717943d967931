/// When a sink's deliveries are attempted: the retry policy laid out as the guide's table
/// (attempt, delay, total), with jitter bounds and the latest moment an attempt can happen.
///
/// It follows the runner's own rules (``RetryDecision``, ``DeliveryStore``): the first attempt is
/// due `schedule[0]` after the delivery is created, with no jitter; each later delay counts from
/// the end of the failed attempt before it, is moved by up to `jitter` either way when it is not
/// zero, and is stretched to a receiver's `Retry-After` (429/503) up to `max_retry_after`.
public struct RetryTimeline: Sendable {
    /// One attempt.
    public struct Row: Sendable, Equatable {
        /// 1-based attempt number.
        public var attempt: Int
        /// The scheduled delay before it, in milliseconds.
        public var delayMs: Int64
        /// The delay's bounds once jitter is applied.
        public var delayRangeMs: ClosedRange<Int64>
        /// When it is due, counted from the delivery's creation, if every attempt before it
        /// failed at once: the schedule's sum.
        public var totalMs: Int64
        /// The same with jitter at its bounds, and with every attempt before it taking the
        /// sink's whole timeout at the upper end.
        public var totalRangeMs: ClosedRange<Int64>
    }

    /// The policy laid out.
    public let policy: RetryPolicy
    /// The longest one attempt may take (the sink's `timeout`), or zero for sinks without one.
    public let attemptTimeoutMs: Int64
    /// One row per attempt.
    public let rows: [Row]

    /// The timeline of `policy` for a sink whose attempts take at most `attemptTimeout`.
    public init(policy: RetryPolicy, attemptTimeout: Duration) {
        self.policy = policy
        attemptTimeoutMs = max(0, attemptTimeout.totalMilliseconds)
        var rows: [Row] = []
        var total: Int64 = 0
        var low: Int64 = 0
        var high: Int64 = 0
        for (index, delay) in policy.schedule.enumerated() {
            let delayMs = max(0, delay.totalMilliseconds)
            var range = delayMs...delayMs
            // Jitter moves retries only, and only those with a delay (RetryDecision).
            if index > 0, policy.jitter > 0, delayMs > 0 {
                let spread = Int64(saturating: Double(delayMs) * policy.jitter)
                range = max(0, delayMs.saturatingSubtract(spread))...delayMs.saturatingAdd(spread)
            }
            total = total.saturatingAdd(delayMs)
            low = low.saturatingAdd(range.lowerBound)
            high = high.saturatingAdd(range.upperBound).saturatingAdd(index > 0 ? attemptTimeoutMs : 0)
            rows.append(Row(attempt: index + 1, delayMs: delayMs, delayRangeMs: range, totalMs: total, totalRangeMs: low...high))
        }
        self.rows = rows
    }

    /// The timeline of `sink`.
    public init(sink: SinkDefinition) {
        self.init(policy: sink.retry, attemptTimeout: Self.attemptTimeout(of: sink.sink))
    }

    /// The longest one attempt to `sink` may take: an http sink's `timeout`, a plugin's.
    public static func attemptTimeout(of sink: any Sink) -> Duration {
        if let http = sink as? HTTPSink { return http.timeout }
        if let plugin = sink as? PluginSink { return plugin.supervisor.manifest.timeout }
        return .zero
    }

    /// The latest the last attempt can start after creation: every attempt failing only at its
    /// timeout, every delay jittered to its longest.
    public var latestMs: Int64 { rows.last?.totalRangeMs.upperBound ?? 0 }

    /// The latest the last attempt can start when the receiver answers 429/503 with a long
    /// `Retry-After` each time: each retry's wait is then at least `max_retry_after`.
    public var latestWithRetryAfterMs: Int64 {
        let cap = max(0, policy.maxRetryAfter.totalMilliseconds)
        var total: Int64 = 0
        for (index, row) in rows.enumerated() {
            total = total.saturatingAdd(index == 0 ? row.delayMs : max(row.delayRangeMs.upperBound, cap).saturatingAdd(attemptTimeoutMs))
        }
        return total
    }

    /// `2h 36m 10s`, `1.5s`, `0s`: a span of milliseconds in its largest units.
    public static func text(ms: Int64) -> String {
        guard ms > 0 else { return "0s" }
        var rest = ms
        var parts: [String] = []
        for (suffix, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000)] where rest >= size {
            parts.append("\(rest / size)\(suffix)")
            rest %= size
        }
        if rest > 0 {
            let seconds = rest / 1_000
            let millis = rest % 1_000
            if millis == 0 {
                parts.append("\(seconds)s")
            } else if seconds == 0 {
                parts.append("\(millis)ms")
            } else {
                var fraction = String(millis)
                fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
                while fraction.hasSuffix("0") { fraction.removeLast() }
                parts.append("\(seconds).\(fraction)s")
            }
        }
        return parts.joined(separator: " ")
    }
}
