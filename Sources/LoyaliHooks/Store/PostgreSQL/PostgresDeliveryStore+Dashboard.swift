/// The dashboard's reads on PostgreSQL: the keyset-paged log (cursor: `seq`, the enqueue order),
/// the charts' buckets and a delivery's stored body.
extension PostgresDeliveryStore {
    public func page(_ filter: DeliveryQuery, search: String?, untilMs: Int64?, before: Int64?) throws -> DeliveryLogPage {
        var terms: [String] = []
        var values: [PostgresValue] = []
        func add(_ sql: (Int) -> String, _ value: PostgresValue) {
            values.append(value)
            terms.append(sql(values.count))
        }
        // The status comes from the enum, never from user text.
        if let status = filter.status { terms.append("status = '\(status.rawValue)'") }
        if let pipeline = filter.pipeline { add({ "pipeline = $\($0)" }, .text(pipeline)) }
        if let sink = filter.sink { add({ "sink = $\($0)" }, .text(sink)) }
        if let type = filter.eventType { add({ "event_type = $\($0)" }, .text(type)) }
        if let since = filter.sinceMs { add({ "updated_at >= $\($0)::bigint" }, .int64(since)) }
        if let untilMs { add({ "updated_at < $\($0)::bigint" }, .int64(untilMs)) }
        if let before { add({ "seq < $\($0)::bigint" }, .int64(before)) }
        if let search, !search.isEmpty {
            // An event id, or a delivery id whole or by prefix.
            add({ "(event_id = $\($0) OR starts_with(id, $\($0)))" }, .text(search))
        }
        let size = max(1, min(filter.limit, 10_000))
        let sql = """
            SELECT \(Self.summaryColumns), seq,
                   (SELECT duration_ms FROM attempts WHERE delivery_seq = deliveries.seq AND attempt = deliveries.attempts)
            FROM deliveries
            \(terms.isEmpty ? "" : "WHERE " + terms.joined(separator: " AND "))
            ORDER BY seq DESC LIMIT \(size + 1)
            """
        let bound = values
        return try work.run { connection in
            let result = try connection.query(sql, bound)
            var rows: [DeliverySummary] = []
            var sequences: [Int64] = []
            var durations: [Int64?] = []
            for row in 0..<result.rowCount {
                rows.append(try Self.summary(result, row))
                sequences.append(try result.int64(row, 12))
                durations.append(try result.optionalInt64(row, 13))
            }
            guard rows.count > size else { return DeliveryLogPage(rows: rows, next: nil, lastDurationsMs: durations) }
            return DeliveryLogPage(rows: Array(rows.prefix(size)), next: sequences[size - 1], lastDurationsMs: Array(durations.prefix(size)))
        }
    }

    /// Buckets computed by the server: counts by outcome and nearest-rank percentiles
    /// (`percentile_disc`) per bucket, every bucket present.
    public func series(sinceMs: Int64, untilMs: Int64, bucketMs: Int64) throws -> [SeriesBucket] {
        precondition(bucketMs > 0 && untilMs >= sinceMs)
        let count = Int((untilMs - sinceMs + bucketMs - 1) / bucketMs)
        var buckets = (0..<count).map { SeriesBucket(startMs: sinceMs + Int64($0) * bucketMs) }
        let rows = try work.run { connection -> [[Int64?]] in
            let result = try connection.query(
                """
                SELECT (started_at - $1::bigint) / $3::bigint,
                       count(*) FILTER (WHERE outcome = 'succeeded'), count(*) FILTER (WHERE outcome = 'retry'),
                       count(*) FILTER (WHERE outcome NOT IN ('succeeded', 'retry')),
                       percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms),
                       percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms)
                FROM attempts WHERE started_at >= $1::bigint AND started_at < $2::bigint
                GROUP BY 1
                """, [.int64(sinceMs), .int64(untilMs), .int64(bucketMs)])
            return try (0..<result.rowCount).map { row in try (0..<6).map { try result.optionalInt64(row, $0) } }
        }
        for row in rows {
            guard let slot = row[0].map(Int.init), slot >= 0, slot < count else { continue }
            buckets[slot].succeeded = Int(row[1] ?? 0)
            buckets[slot].retried = Int(row[2] ?? 0)
            buckets[slot].failed = Int(row[3] ?? 0)
            buckets[slot].latencyP50Ms = row[4]
            buckets[slot].latencyP95Ms = row[5]
        }
        return buckets
    }

    public func body(id: String) throws -> [UInt8]? {
        try work.run { connection in
            let result = try connection.query("SELECT body FROM deliveries WHERE id = $1", [.text(id)])
            return result.rowCount == 0 ? nil : try result.bytes(0, 0)
        }
    }
}
