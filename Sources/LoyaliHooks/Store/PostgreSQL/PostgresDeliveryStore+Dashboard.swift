/// The dashboard's reads on PostgreSQL: the keyset-paged log (sorted by latest activity, then
/// enqueue order; cursor: both, see ``DeliveryLogCursor``),
/// the charts' buckets (from the maintained aggregates) and a delivery's stored body.
extension PostgresDeliveryStore {
    public func page(_ filter: DeliveryQuery, search: String?, untilMs: Int64?, before: DeliveryLogCursor?) throws -> DeliveryLogPage {
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
        if let before {
            values.append(.int64(before.updatedAtMs))
            values.append(.int64(before.sequence))
            terms.append("(updated_at, seq) < ($\(values.count - 1)::bigint, $\(values.count)::bigint)")
        }
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
            ORDER BY updated_at DESC, seq DESC LIMIT \(size + 1)
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
            let last = size - 1
            return DeliveryLogPage(
                rows: Array(rows.prefix(size)), next: DeliveryLogCursor(updatedAtMs: rows[last].updatedAtMs, sequence: sequences[last]),
                lastDurationsMs: Array(durations.prefix(size)))
        }
    }

    /// The charts' buckets from the maintained aggregates (see ``RollupReader``), from one
    /// snapshot. Blocking.
    public func series(sinceMs: Int64, untilMs: Int64, bucketMs: Int64) throws -> [SeriesBucket] {
        try work.run { connection in
            try connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            defer { _ = try? connection.query("COMMIT") }
            return try RollupReader.series(sinceMs: sinceMs, untilMs: untilMs, bucketMs: bucketMs, from: RollupReads(connection: connection))
        }
    }

    /// `stats` and the charts' reads, inside the caller's transaction. The server adds up the
    /// shards of a bucket (one per writing connection) with the rest.
    struct RollupReads: RollupSource {
        let connection: PostgresConnection

        func rollupRows(
            spanMs: Int64, fromMs: Int64, toMs: Int64?, bySink: Bool, _ body: (Int64, String, String, RollupCounts) -> Void
        ) throws {
            let key = bySink ? "0::bigint, pipeline, sink" : "start, '', ''"
            let result = try connection.query(
                """
                SELECT \(key), \(RollupSQL.countColumns.map { "sum(\($0))::bigint" }.joined(separator: ", ")),
                    string_agg(latency, ',')
                FROM rollups WHERE span = $1::bigint AND start >= $2::bigint AND start < $3::bigint
                GROUP BY \(bySink ? "pipeline, sink" : "start")
                """, [.int64(spanMs), .int64(fromMs), .int64(toMs ?? .max)])
            for row in 0..<result.rowCount {
                let counts = RollupCounts(
                    columnValues: try (3..<13).map { try result.int64(row, $0) }, latencyText: try result.optionalString(row, 13))
                body(try result.int64(row, 0), try result.string(row, 1), try result.string(row, 2), counts)
            }
        }

        func rawDeliveries(fromMs: Int64, toMs: Int64, _ body: (String, String, DeliveryStatus, Int) -> Void) throws {
            let result = try connection.query(
                "SELECT pipeline, sink, status, attempts::bigint FROM deliveries WHERE updated_at >= $1::bigint AND updated_at < $2::bigint",
                [.int64(fromMs), .int64(toMs)])
            for row in 0..<result.rowCount {
                body(
                    try result.string(row, 0), try result.string(row, 1),
                    DeliveryStatus(rawValue: try result.string(row, 2)) ?? .pending, Int(try result.int64(row, 3)))
            }
        }

        func rawAttempts(fromMs: Int64, toMs: Int64, _ body: (Int64, String, String, String, Int64) -> Void) throws {
            let result = try connection.query(
                """
                SELECT started_at, pipeline, sink, outcome, duration_ms FROM attempts
                WHERE started_at >= $1::bigint AND started_at < $2::bigint
                """, [.int64(fromMs), .int64(toMs)])
            for row in 0..<result.rowCount {
                body(
                    try result.int64(row, 0), try result.string(row, 1), try result.string(row, 2), try result.string(row, 3),
                    try result.int64(row, 4))
            }
        }
    }

    public func body(id: String) throws -> [UInt8]? {
        try work.run { connection in
            let result = try connection.query("SELECT body FROM deliveries WHERE id = $1", [.text(id)])
            return result.rowCount == 0 ? nil : try result.bytes(0, 0)
        }
    }
}
