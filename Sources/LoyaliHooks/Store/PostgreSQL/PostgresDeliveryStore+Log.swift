/// The delivery log on PostgreSQL: listing, the attempt timeline, resend, stats and counts. Every
/// node reads the same rows, so read commands agree whichever node they run on.
extension PostgresDeliveryStore {
    /// Deliveries matching `filter`, most recently enqueued first, at most `filter.limit`. Blocking.
    public func list(_ filter: DeliveryQuery) throws -> [DeliverySummary] {
        let clause = Self.whereClause(for: filter, firstParameter: 1)
        let sql = "SELECT \(Self.summaryColumns) FROM deliveries \(clause.sql) ORDER BY seq DESC LIMIT $\(clause.values.count + 1)::bigint"
        return try work.run { connection in
            let result = try connection.query(sql, clause.values + [.int(max(0, filter.limit))])
            return try (0..<result.rowCount).map { try Self.summary(result, $0) }
        }
    }

    /// One delivery and its attempts in order (each with the node that made it), or `nil` for an
    /// unknown id. Blocking.
    public func detail(id: String) throws -> (DeliverySummary, [AttemptRow])? {
        let found = try work.run { connection -> Detail? in
            let row = try connection.query("SELECT \(Self.summaryColumns), seq FROM deliveries WHERE id = $1", [.text(id)])
            guard row.rowCount == 1 else { return nil }
            let summary = try Self.summary(row, 0)
            let result = try connection.query(
                """
                SELECT attempt, started_at, duration_ms, http_status, error_class, error_message,
                       response_snippet, outcome, next_attempt_at, node
                FROM attempts WHERE delivery_seq = $1::bigint ORDER BY attempt
                """, [.int64(try row.int64(0, 12))])
            var attempts: [AttemptRow] = []
            for index in 0..<result.rowCount {
                let outcome = AttemptOutcome(storedName: try result.string(index, 7), nextAttemptMs: try result.optionalInt64(index, 8)) ?? .failed
                attempts.append(
                    AttemptRow(
                        deliveryID: id, attempt: Int(try result.int64(index, 0)),
                        startedAtMs: try result.int64(index, 1), durationMs: try result.int64(index, 2),
                        httpStatus: try result.optionalInt64(index, 3).map { Int($0) },
                        errorClass: try result.optionalString(index, 4), errorMessage: try result.optionalString(index, 5),
                        responseSnippet: try result.optionalString(index, 6), outcome: outcome,
                        node: try result.optionalString(index, 9)))
            }
            return Detail(summary: summary, attempts: attempts)
        }
        return found.map { ($0.summary, $0.attempts) }
    }

    private struct Detail: Sendable {
        var summary: DeliverySummary
        var attempts: [AttemptRow]
    }

    /// Queues a fresh attempt, due at `nowMs`, for each id (refusing in-flight ones), telling the
    /// refusals apart in the same transaction, and announces the work. Blocking.
    public func resendReporting(ids: [String], nowMs: Int64) throws -> ResendResult {
        var seen = Set<String>()
        let unique = ids.filter { seen.insert($0).inserted }
        guard !unique.isEmpty else { return ResendResult() }
        return try write(work) { connection in
            try connection.transaction {
                let updated = try connection.query(
                    """
                    UPDATE deliveries
                    SET status = 'pending', next_attempt_at = $2::bigint, schedule_offset = attempts, updated_at = $2::bigint,
                        lease_owner = NULL, lease_until = NULL
                    WHERE id = ANY($1::text[]) AND status <> 'in_flight'
                    RETURNING id
                    """, [.textArray(unique), .int64(nowMs)])
                var queued = Set<String>()
                for row in 0..<updated.rowCount { queued.insert(try updated.string(row, 0)) }
                var result = ResendResult()
                let refused = unique.filter { !queued.contains($0) }
                var known = Set<String>()
                if !refused.isEmpty {
                    let found = try connection.query("SELECT id FROM deliveries WHERE id = ANY($1::text[])", [.textArray(refused)])
                    for row in 0..<found.rowCount { known.insert(try found.string(row, 0)) }
                }
                for id in unique {
                    if queued.contains(id) {
                        result.queued.append(id)
                    } else if known.contains(id) {
                        result.inFlight.append(id)
                    } else {
                        result.unknown.append(id)
                    }
                }
                if !queued.isEmpty { try connection.query("SELECT pg_notify($1, '')", [.text(Self.notifyChannel)]) }
                return result
            }
        }
    }

    /// `resend --failed`: queues a fresh attempt for every FAILED delivery matching `filter` (its
    /// `status` and `limit` ignored). Returns how many. Blocking.
    public func resend(matching filter: DeliveryQuery, nowMs: Int64) throws -> Int {
        var failedOnly = filter
        failedOnly.status = .failed
        let clause = Self.whereClause(for: failedOnly, firstParameter: 2)
        let sql = """
            UPDATE deliveries
            SET status = 'pending', next_attempt_at = $1::bigint, schedule_offset = attempts, updated_at = $1::bigint
            \(clause.sql)
            """
        return try write(work) { connection in
            try connection.transaction {
                let count = try connection.query(sql, [.int64(nowMs)] + clause.values).affectedRows
                if count > 0 { try connection.query("SELECT pg_notify($1, '')", [.text(Self.notifyChannel)]) }
                return count
            }
        }
    }

    /// The health table per (pipeline, sink) since `sinceMs` from the maintained aggregates (see
    /// ``RollupReader``), from one snapshot (a repeatable-read transaction). Blocking.
    public func stats(sinceMs: Int64?) throws -> [SinkStats] {
        try work.run { connection in
            try connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            defer { _ = try? connection.query("COMMIT") }
            return try RollupReader.stats(sinceMs: sinceMs, from: RollupReads(connection: connection))
        }
    }

    /// How many deliveries are in each status (every status present, zero included). Blocking.
    public func counts() throws -> [DeliveryStatus: Int] {
        try work.run { connection in
            let result = try connection.query("SELECT status, count(*) FROM deliveries GROUP BY status")
            var counts = Dictionary(uniqueKeysWithValues: DeliveryStatus.allCases.map { ($0, 0) })
            for row in 0..<result.rowCount {
                if let status = DeliveryStatus(rawValue: try result.string(row, 0)) { counts[status] = Int(try result.int64(row, 1)) }
            }
            return counts
        }
    }

    /// Queue depth and failed count per (pipeline, sink), from the partial indexes. Blocking.
    public func outboxGauges() throws -> [OutboxGauge] {
        try work.run { connection in
            let result = try connection.query(
                """
                SELECT pipeline, sink, count(*) FILTER (WHERE status IN ('pending', 'retrying')),
                       count(*) FILTER (WHERE status = 'failed')
                FROM deliveries WHERE status IN ('pending', 'retrying') OR status = 'failed'
                GROUP BY pipeline, sink ORDER BY pipeline COLLATE "C", sink COLLATE "C"
                """)
            return try (0..<result.rowCount).map { row in
                OutboxGauge(
                    pipeline: try result.string(row, 0), sink: try result.string(row, 1),
                    waiting: Int(try result.int64(row, 2)), failed: Int(try result.int64(row, 3)))
            }
        }
    }

    /// The schema version the database holds. Blocking.
    public func schemaVersion() throws -> Int {
        try work.run { try PostgresSchema.version(of: $0) }
    }

    // MARK: Helpers

    static let summaryColumns = """
        id, pipeline, sink, event_id, event_type, status, attempts, created_at, updated_at,
        next_attempt_at, last_error, last_http_status
        """

    static func summary(_ result: PostgresResult, _ row: Int) throws -> DeliverySummary {
        let status = DeliveryStatus(rawValue: try result.string(row, 5)) ?? .pending
        let waiting = status == .pending || status == .retrying
        return DeliverySummary(
            id: try result.string(row, 0), pipeline: try result.string(row, 1), sink: try result.string(row, 2),
            eventID: try result.string(row, 3), eventType: try result.string(row, 4), status: status,
            attempts: Int(try result.int64(row, 6)), createdAtMs: try result.int64(row, 7),
            updatedAtMs: try result.int64(row, 8), nextAttemptMs: waiting ? try result.optionalInt64(row, 9) : nil,
            lastError: try result.optionalString(row, 10), lastHTTPStatus: try result.optionalInt64(row, 11).map { Int($0) })
    }

    /// A WHERE clause for a query and its parameter values, numbered from `firstParameter`. The
    /// status comes from the enum, never from user text, so it is written as a literal.
    private static func whereClause(for query: DeliveryQuery, firstParameter: Int) -> (sql: String, values: [PostgresValue]) {
        var terms: [String] = []
        var values: [PostgresValue] = []
        if let status = query.status { terms.append("status = '\(status.rawValue)'") }
        for (column, value) in [("pipeline", query.pipeline), ("sink", query.sink), ("event_type", query.eventType)] {
            guard let value else { continue }
            values.append(.text(value))
            terms.append("\(column) = $\(firstParameter + values.count - 1)")
        }
        if let since = query.sinceMs {
            values.append(.int64(since))
            terms.append("updated_at >= $\(firstParameter + values.count - 1)::bigint")
        }
        return (terms.isEmpty ? "" : "WHERE " + terms.joined(separator: " AND "), values)
    }
}
