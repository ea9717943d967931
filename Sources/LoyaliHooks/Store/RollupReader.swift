/// What an engine hands ``RollupReader``, all from one snapshot of the store.
protocol RollupSource {
    /// The `rollups` rows `spanMs` wide starting in [`fromMs`, `toMs`) (`nil`: no end), summed by
    /// the server per (pipeline, sink) when `bySink` (`startMs` is then 0), else per bucket start
    /// over every sink (`pipeline` and `sink` are then empty); in any order. Summing in SQL hands
    /// a week's health table over as one row per sink, not 168.
    func rollupRows(
        spanMs: Int64, fromMs: Int64, toMs: Int64?, bySink: Bool,
        _ body: (_ startMs: Int64, _ pipeline: String, _ sink: String, _ counts: RollupCounts) -> Void) throws
    /// Every delivery whose `updated_at` is in [`fromMs`, `toMs`).
    func rawDeliveries(fromMs: Int64, toMs: Int64, _ body: (_ pipeline: String, _ sink: String, _ status: DeliveryStatus, _ attempts: Int) -> Void) throws
    /// Every attempt started in [`fromMs`, `toMs`), with its stored outcome name.
    func rawAttempts(fromMs: Int64, toMs: Int64, _ body: (_ startedAtMs: Int64, _ pipeline: String, _ sink: String, _ outcome: String, _ durationMs: Int64) -> Void) throws
}

/// `stats` and the dashboard's charts from the maintained aggregates (``RollupCounts``), the same
/// way for both engines, so the overview and `stats --json` agree to the last digit.
///
/// A window is covered by hour rows where whole hours fit, minute rows where whole minutes fit,
/// and the rows themselves (deliveries by `updated_at`, attempts by `started_at`, read through
/// their time indexes) for the part of a minute at an edge: the figures are exactly those of a
/// scan of the outbox for the window, except latency percentiles, which come from the
/// histogram's buckets (within 1/32 of the exact nearest-rank value, see ``LatencyHistogram``).
/// A week reads 168 hour rows per sink, up to 119 minute rows per sink and at most one minute's
/// rows: the cost no longer grows with the number of deliveries.
enum RollupReader {
    /// A part of a window and where its figures come from.
    enum Piece: Equatable {
        /// The rows themselves, [from, to).
        case raw(fromMs: Int64, toMs: Int64)
        /// Rollup rows `spanMs` wide starting in [from, to) (`nil`: no end).
        case rollup(spanMs: Int64, fromMs: Int64, toMs: Int64?)
    }

    /// The pieces covering [`fromMs`, `toMs`) (`toMs` `nil`: up to any time).
    static func cover(fromMs: Int64, toMs: Int64?) -> [Piece] {
        let minute = RollupSQL.minuteMs
        let hour = RollupSQL.hourMs
        let m1 = ceil(fromMs, minute)
        var pieces: [Piece] = []
        guard let toMs else {
            let h1 = ceil(m1, hour)
            if fromMs < m1 { pieces.append(.raw(fromMs: fromMs, toMs: m1)) }
            if m1 < h1 { pieces.append(.rollup(spanMs: minute, fromMs: m1, toMs: h1)) }
            pieces.append(.rollup(spanMs: hour, fromMs: h1, toMs: nil))
            return pieces
        }
        let m2 = RollupSQL.floor(toMs, minute)
        guard m1 < m2 else { return fromMs < toMs ? [.raw(fromMs: fromMs, toMs: toMs)] : [] }
        if fromMs < m1 { pieces.append(.raw(fromMs: fromMs, toMs: m1)) }
        let h1 = ceil(m1, hour)
        let h2 = RollupSQL.floor(m2, hour)
        if h1 < h2 {
            if m1 < h1 { pieces.append(.rollup(spanMs: minute, fromMs: m1, toMs: h1)) }
            pieces.append(.rollup(spanMs: hour, fromMs: h1, toMs: h2))
            if h2 < m2 { pieces.append(.rollup(spanMs: minute, fromMs: h2, toMs: m2)) }
        } else {
            pieces.append(.rollup(spanMs: minute, fromMs: m1, toMs: m2))
        }
        if m2 < toMs { pieces.append(.raw(fromMs: m2, toMs: toMs)) }
        return pieces
    }

    private static func ceil(_ ms: Int64, _ width: Int64) -> Int64 {
        let floor = RollupSQL.floor(ms, width)
        return floor == ms ? ms : floor + width
    }

    /// A (pipeline, sink), in the health table's order.
    private struct SinkKey: Hashable, Comparable {
        var pipeline: String
        var sink: String
        static func < (a: SinkKey, b: SinkKey) -> Bool { (a.pipeline, a.sink) < (b.pipeline, b.sink) }
    }

    /// See ``DeliveryStore/stats(sinceMs:)``.
    static func stats(sinceMs: Int64?, from source: some RollupSource) throws -> [SinkStats] {
        var totals: [SinkKey: RollupCounts] = [:]
        let pieces: [Piece] = sinceMs.map { cover(fromMs: $0, toMs: nil) } ?? [.rollup(spanMs: RollupSQL.hourMs, fromMs: .min, toMs: nil)]
        for piece in pieces {
            switch piece {
            case .raw(let from, let to):
                try source.rawDeliveries(fromMs: from, toMs: to) { pipeline, sink, status, attempts in
                    totals[SinkKey(pipeline: pipeline, sink: sink), default: RollupCounts()].add(status: status, attempts: attempts, sign: 1)
                }
                try source.rawAttempts(fromMs: from, toMs: to) { _, pipeline, sink, outcome, duration in
                    totals[SinkKey(pipeline: pipeline, sink: sink), default: RollupCounts()].addAttempt(outcome: outcome, durationMs: duration)
                }
            case .rollup(let span, let from, let to):
                try source.rollupRows(spanMs: span, fromMs: from, toMs: to, bySink: true) { _, pipeline, sink, counts in
                    totals[SinkKey(pipeline: pipeline, sink: sink), default: RollupCounts()].merge(counts)
                }
            }
        }
        return totals.filter { $0.value.deliveries > 0 }.sorted { $0.key < $1.key }.map { key, counts in
            let succeeded = Int(counts.succeeded)
            let failed = Int(counts.failed)
            let attempted = Int(counts.attempted)
            let retried = Int(counts.retried)
            return SinkStats(
                pipeline: key.pipeline, sink: key.sink, total: Int(counts.deliveries), succeeded: succeeded, failed: failed,
                pending: Int(counts.pending), retrying: Int(counts.retrying), inFlight: Int(counts.inFlight),
                attempted: attempted, retried: retried,
                attemptCount: Int(counts.attemptsSucceeded + counts.attemptsRetried + counts.attemptsFailed),
                successRate: succeeded + failed > 0 ? Double(succeeded) / Double(succeeded + failed) : nil,
                retryRate: attempted > 0 ? Double(retried) / Double(attempted) : nil,
                latencyP50Ms: counts.latency.percentile(50), latencyP95Ms: counts.latency.percentile(95),
                latencyP99Ms: counts.latency.percentile(99))
        }
    }

    /// See ``DeliveryStore/series(sinceMs:untilMs:bucketMs:)``.
    static func series(sinceMs: Int64, untilMs: Int64, bucketMs: Int64, from source: some RollupSource) throws -> [SeriesBucket] {
        precondition(bucketMs > 0 && untilMs >= sinceMs)
        let count = Int((untilMs - sinceMs + bucketMs - 1) / bucketMs)
        var buckets = (0..<count).map { SeriesBucket(startMs: sinceMs + Int64($0) * bucketMs) }
        var latency = [LatencyHistogram](repeating: LatencyHistogram(), count: count)
        // Each bucket's own cover, with touching pieces of one kind joined: one query per run
        // (the 1-hour chart is one range of minute rows), and every row inside one bucket.
        var pieces: [Piece] = []
        for slot in 0..<count {
            let start = sinceMs + Int64(slot) * bucketMs
            for piece in cover(fromMs: start, toMs: min(start + bucketMs, untilMs)) {
                switch (pieces.last, piece) {
                case (.raw(let from, let end)?, .raw(let next, let to)) where end == next:
                    pieces[pieces.count - 1] = .raw(fromMs: from, toMs: to)
                case (.rollup(let span, let from, let end?)?, .rollup(let nextSpan, let next, let to)) where span == nextSpan && end == next:
                    pieces[pieces.count - 1] = .rollup(spanMs: span, fromMs: from, toMs: to)
                default:
                    pieces.append(piece)
                }
            }
        }
        func slot(_ ms: Int64) -> Int? {
            let slot = Int((ms - sinceMs) / bucketMs)
            return ms >= sinceMs && slot < count ? slot : nil
        }
        for piece in pieces {
            switch piece {
            case .raw(let from, let to):
                try source.rawAttempts(fromMs: from, toMs: to) { started, _, _, outcome, duration in
                    guard let slot = slot(started) else { return }
                    switch outcome {
                    case "succeeded": buckets[slot].succeeded += 1
                    case "retry": buckets[slot].retried += 1
                    default: buckets[slot].failed += 1
                    }
                    latency[slot].add(durationMs: duration)
                }
            case .rollup(let span, let from, let to):
                try source.rollupRows(spanMs: span, fromMs: from, toMs: to, bySink: false) { start, _, _, counts in
                    guard let slot = slot(start) else { return }
                    buckets[slot].succeeded += Int(counts.attemptsSucceeded)
                    buckets[slot].retried += Int(counts.attemptsRetried)
                    buckets[slot].failed += Int(counts.attemptsFailed)
                    latency[slot].merge(counts.latency)
                }
            }
        }
        for slot in buckets.indices {
            buckets[slot].latencyP50Ms = latency[slot].percentile(50)
            buckets[slot].latencyP95Ms = latency[slot].percentile(95)
        }
        return buckets
    }
}
