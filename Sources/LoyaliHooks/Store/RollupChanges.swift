/// The changes one write transaction makes to the maintained aggregates (``RollupCounts``),
/// gathered per (minute, pipeline, sink) while the transaction writes its rows, then written as
/// one upsert per minute row and one per hour row, in the same transaction. A batch of attempts
/// of one sink usually touches one minute and one hour: two upserts, however large the batch.
struct RollupChanges {
    /// A minute bucket of one (pipeline, sink).
    struct Key: Hashable {
        var startMs: Int64
        var pipeline: String
        var sink: String
    }

    /// The changes by minute, but for the latest key's.
    private var settled: [Key: RollupCounts] = [:]
    /// The minute changed last and its changes, kept apart until another minute is changed: the
    /// rows of one batch nearly all fall in one minute of one sink, and each change then costs a
    /// comparison instead of a dictionary lookup that hashes both names (about 3 lookups a row).
    private var latestKey: Key?
    private var latestCounts = RollupCounts()

    /// The changes by minute.
    var minutes: [Key: RollupCounts] {
        guard let latestKey else { return settled }
        var all = settled
        all[latestKey, default: RollupCounts()].merge(latestCounts)
        return all
    }

    /// A delivery's state, as far as the aggregates care.
    struct RowState: Sendable, Equatable {
        var status: DeliveryStatus
        var attempts: Int
        var updatedAtMs: Int64
    }

    /// Moves one delivery from its `old` state (`nil`: a new row) to its `new` one.
    mutating func move(pipeline: String, sink: String, from old: RowState?, to new: RowState) {
        if let old {
            guard old != new else { return }
            change(pipeline: pipeline, sink: sink, atMs: old.updatedAtMs) { $0.add(status: old.status, attempts: old.attempts, sign: -1) }
        }
        change(pipeline: pipeline, sink: sink, atMs: new.updatedAtMs) { $0.add(status: new.status, attempts: new.attempts, sign: 1) }
    }

    /// Counts one attempt (its stored outcome name and duration) in the minute it started;
    /// `sign` −1 takes out an attempt row that a re-recording overwrites.
    mutating func attempt(pipeline: String, sink: String, startedAtMs: Int64, outcome: String, durationMs: Int64, sign: Int64 = 1) {
        change(pipeline: pipeline, sink: sink, atMs: startedAtMs) { $0.addAttempt(outcome: outcome, durationMs: durationMs, sign: sign) }
    }

    private mutating func change(pipeline: String, sink: String, atMs: Int64, _ body: (inout RollupCounts) -> Void) {
        let key = Key(startMs: RollupSQL.floor(atMs, RollupSQL.minuteMs), pipeline: pipeline, sink: sink)
        if key != latestKey {
            if let latestKey { settled[latestKey, default: RollupCounts()].merge(latestCounts) }
            latestKey = key
            latestCounts = RollupCounts()
        }
        body(&latestCounts)
    }

    /// Whether there is nothing to write.
    var isEmpty: Bool { minutes.values.allSatisfy(\.isZero) }

    /// The rows to add, minute rows and the hour rows they add up to, each as (span, key, counts),
    /// in key order so concurrent writers lock rows in one order.
    var rows: [(spanMs: Int64, key: Key, counts: RollupCounts)] {
        var hours: [Key: RollupCounts] = [:]
        var result: [(spanMs: Int64, key: Key, counts: RollupCounts)] = []
        for (key, counts) in minutes where !counts.isZero {
            result.append((RollupSQL.minuteMs, key, counts))
            var hour = key
            hour.startMs = RollupSQL.floor(key.startMs, RollupSQL.hourMs)
            hours[hour, default: RollupCounts()].merge(counts)
        }
        for (key, counts) in hours where !counts.isZero { result.append((RollupSQL.hourMs, key, counts)) }
        return result.sorted { ($0.spanMs, $0.key.startMs, $0.key.pipeline, $0.key.sink) < ($1.spanMs, $1.key.startMs, $1.key.pipeline, $1.key.sink) }
    }
}
