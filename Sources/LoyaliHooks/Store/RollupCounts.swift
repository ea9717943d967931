/// One row of the maintained aggregates (the `rollups` table of both engines): for one
/// (pipeline, sink) and one time bucket (a minute or an hour), the deliveries whose last activity
/// (`updated_at`) falls in the bucket, by their status now, and the attempts started in it, by
/// outcome, with their latency histogram.
///
/// A delivery counts in exactly one bucket, the one of its `updated_at`: every write that changes
/// a delivery's status, attempt count or `updated_at` moves it, taking 1 from its old bucket and
/// adding 1 to its new one, in the transaction that changes the row. So the sum of the buckets
/// from a time on is what a scan of the outbox for `updated_at >= time` would count, and `stats`
/// reads these sums instead of the outbox.
struct RollupCounts: Sendable, Equatable {
    var pending: Int64 = 0
    var retrying: Int64 = 0
    var inFlight: Int64 = 0
    var succeeded: Int64 = 0
    var failed: Int64 = 0
    /// Deliveries with at least one attempt.
    var attempted: Int64 = 0
    /// Deliveries with more than one attempt.
    var retried: Int64 = 0
    /// Attempts started in the bucket that delivered.
    var attemptsSucceeded: Int64 = 0
    /// Attempts that failed and were scheduled again (interrupted ones included).
    var attemptsRetried: Int64 = 0
    /// Attempts that failed for good.
    var attemptsFailed: Int64 = 0
    /// The durations of the bucket's attempts.
    var latency = LatencyHistogram()

    /// Deliveries in the bucket, whatever their status.
    var deliveries: Int64 { pending + retrying + inFlight + succeeded + failed }

    /// Whether nothing changes: a change with this value needs no write.
    var isZero: Bool {
        pending == 0 && retrying == 0 && inFlight == 0 && succeeded == 0 && failed == 0
            && attempted == 0 && retried == 0 && attemptsSucceeded == 0 && attemptsRetried == 0 && attemptsFailed == 0
            && latency.isEmpty
    }

    /// Counts a delivery in `status` with `attempts` attempts, `sign` times (−1 takes it out).
    mutating func add(status: DeliveryStatus, attempts: Int, sign: Int64) {
        switch status {
        case .pending: pending += sign
        case .retrying: retrying += sign
        case .inFlight: inFlight += sign
        case .succeeded: succeeded += sign
        case .failed: failed += sign
        }
        if attempts >= 1 { attempted += sign }
        if attempts > 1 { retried += sign }
    }

    /// Counts one attempt: its stored outcome (`succeeded`, `retry`, anything else is failed) and
    /// its duration, `sign` times (−1 takes out an attempt row that is being overwritten).
    mutating func addAttempt(outcome: String, durationMs: Int64, sign: Int64 = 1) {
        switch outcome {
        case "succeeded": attemptsSucceeded += sign
        case "retry": attemptsRetried += sign
        default: attemptsFailed += sign
        }
        latency.add(durationMs: durationMs, count: sign)
    }

    /// Adds every count of `other`.
    mutating func merge(_ other: RollupCounts) {
        pending += other.pending
        retrying += other.retrying
        inFlight += other.inFlight
        succeeded += other.succeeded
        failed += other.failed
        attempted += other.attempted
        retried += other.retried
        attemptsSucceeded += other.attemptsSucceeded
        attemptsRetried += other.attemptsRetried
        attemptsFailed += other.attemptsFailed
        latency.merge(other.latency)
    }

    /// The columns in the order ``RollupSQL/countColumns`` names them (the latency apart).
    var columnValues: [Int64] {
        [pending, retrying, inFlight, succeeded, failed, attempted, retried, attemptsSucceeded, attemptsRetried, attemptsFailed]
    }

    /// Counts from values in the order of ``columnValues``.
    init(columnValues values: [Int64], latencyText: String?) {
        precondition(values.count == 10)
        (pending, retrying, inFlight, succeeded, failed) = (values[0], values[1], values[2], values[3], values[4])
        (attempted, retried) = (values[5], values[6])
        (attemptsSucceeded, attemptsRetried, attemptsFailed) = (values[7], values[8], values[9])
        if let latencyText { latency.merge(text: latencyText) }
    }

    /// Nothing counted.
    init() {}
}
