/// The delivery log and its operations: listing, the attempt timeline, resend, stats and counts.
extension SQLiteDeliveryStore {
    /// Deliveries matching `filter`, most recently enqueued first, at most `filter.limit`.
    /// Blocking; call off the cooperative pool.
    public func list(_ filter: DeliveryQuery) throws -> [DeliverySummary] {
        let clause = Self.whereClause(for: filter, firstParameter: 1)
        // Left alone, SQLite would rather walk the whole outbox backwards (no sort) than read the
        // few failed rows from their index and sort them.
        let index = filter.status == .failed ? "INDEXED BY deliveries_failed" : ""
        let sql = "SELECT \(Self.summaryColumns) FROM deliveries \(index) \(clause.sql) ORDER BY seq DESC LIMIT ?\(clause.nextParameter)"
        let limit = max(0, filter.limit)
        return try withDatabase { database in
            try database.withStatement(sql) { statement in
                try clause.bind(to: statement)
                try statement.bind(limit, at: clause.nextParameter)
                var rows: [DeliverySummary] = []
                while try statement.step() { rows.append(Self.summary(from: statement)) }
                return rows
            }
        }
    }

    /// One delivery and its attempts in order, or `nil` for an unknown id. Blocking.
    public func detail(id: String) throws -> (DeliverySummary, [AttemptRow])? {
        try withDatabase { database -> DeliveryDetail? in
            let found = try database.withStatement(
                "SELECT \(Self.summaryColumns), seq FROM deliveries WHERE id = ?1"
            ) { statement -> (DeliverySummary, Int64)? in
                try DeliveryIDColumn.bind(id, to: statement, at: 1)
                return try statement.step() ? (Self.summary(from: statement), statement.int64(at: 12)) : nil
            }
            guard let (summary, sequence) = found else { return nil }
            let attempts = try database.withStatement(
                """
                SELECT attempt, started_at, duration_ms, http_status, error_class, error_message,
                       response_snippet, outcome, next_attempt_at, node
                FROM attempts WHERE delivery_seq = ?1 ORDER BY attempt
                """
            ) { statement in
                try statement.bind(sequence, at: 1)
                var rows: [AttemptRow] = []
                while try statement.step() {
                    let outcome =
                        AttemptOutcome(
                            storedName: statement.string(at: 7), nextAttemptMs: statement.optionalInt64(at: 8))
                        ?? .failed
                    rows.append(
                        AttemptRow(
                            deliveryID: id, attempt: statement.int(at: 0),
                            startedAtMs: statement.int64(at: 1), durationMs: statement.int64(at: 2),
                            httpStatus: statement.optionalInt64(at: 3).map { Int($0) },
                            errorClass: statement.optionalString(at: 4),
                            errorMessage: statement.optionalString(at: 5),
                            responseSnippet: statement.optionalString(at: 6), outcome: outcome,
                            node: statement.optionalString(at: 9)))
                }
                return rows
            }
            return DeliveryDetail(summary: summary, attempts: attempts)
        }.map { ($0.summary, $0.attempts) }
    }

    /// Queues a fresh attempt, due at `nowMs`, for each id: status `pending`, the same id, the
    /// attempt number counting on, and the retry schedule restarting from its first delay.
    /// Succeeded deliveries may be resent too (a manual resend is deliberate). The ids it refuses
    /// are told apart, in flight or unknown, in the same transaction, so the reason is the one
    /// that held when the id was refused. Blocking.
    public func resendReporting(ids: [String], nowMs: Int64) throws -> ResendResult {
        var seen = Set<String>()
        let unique = ids.filter { seen.insert($0).inserted }
        return try withDatabase { database in
            try database.transaction {
                var result = ResendResult()
                var refused: [String] = []
                try database.withStatement(
                    """
                    UPDATE OR ROLLBACK deliveries
                    SET status = 'pending', next_attempt_at = ?2, schedule_offset = attempts, updated_at = ?2
                    WHERE id = ?1 AND status <> 'in_flight'
                    """
                ) { statement in
                    try statement.bind(nowMs, at: 2)
                    for id in unique {
                        statement.reset()
                        try DeliveryIDColumn.bind(id, to: statement, at: 1)
                        try statement.run()
                        if database.changes == 1 { result.queued.append(id) } else { refused.append(id) }
                    }
                }
                guard !refused.isEmpty else { return result }
                try database.withStatement("SELECT 1 FROM deliveries WHERE id = ?1") { statement in
                    for id in refused {
                        statement.reset()
                        try DeliveryIDColumn.bind(id, to: statement, at: 1)
                        if try statement.step() { result.inFlight.append(id) } else { result.unknown.append(id) }
                    }
                }
                return result
            }
        }
    }

    /// `resend --failed`: queues a fresh attempt for every FAILED delivery matching `filter`
    /// (its `status` is ignored and taken as `failed`; its `limit` is ignored, so all of them
    /// go), as `resend(ids:nowMs:)` does. Returns how many were queued. Blocking.
    public func resend(matching filter: DeliveryQuery, nowMs: Int64) throws -> Int {
        var failedOnly = filter
        failedOnly.status = .failed
        let clause = Self.whereClause(for: failedOnly, firstParameter: 2)
        let sql = """
            UPDATE OR ROLLBACK deliveries INDEXED BY deliveries_failed
            SET status = 'pending', next_attempt_at = ?1, schedule_offset = attempts, updated_at = ?1
            \(clause.sql)
            """
        return try withDatabase { database in
            try database.transaction {
                try database.withStatement(sql) { statement in
                    try statement.bind(nowMs, at: 1)
                    try clause.bind(to: statement)
                    try statement.run()
                    return database.changes
                }
            }
        }
    }

    /// The health table: one entry per (pipeline, sink) with activity since `sinceMs` (`nil`:
    /// all time), sorted by pipeline then sink. Latency percentiles are nearest-rank over the
    /// attempts started in the window, computed from SQL's per-duration counts in one ordered
    /// pass, so memory stays flat with millions of attempts. Blocking.
    public func stats(sinceMs: Int64?) throws -> [SinkStats] {
        let since = sinceMs ?? Int64.min
        return try withDatabase { database in
            // One read transaction, so the figures of all sinks come from the same snapshot.
            try database.execute("BEGIN")
            defer { try? database.execute("COMMIT") }
            var results: [SinkStats] = []
            try database.withStatement(
                """
                SELECT pipeline, sink, count(*),
                       sum(status = 'succeeded'), sum(status = 'failed'), sum(status = 'pending'),
                       sum(status = 'retrying'), sum(status = 'in_flight'),
                       sum(attempts >= 1), sum(attempts > 1)
                FROM deliveries WHERE updated_at >= ?1
                GROUP BY pipeline, sink ORDER BY pipeline, sink
                """
            ) { statement in
                try statement.bind(since, at: 1)
                while try statement.step() {
                    let succeeded = statement.int(at: 3)
                    let failed = statement.int(at: 4)
                    let attempted = statement.int(at: 8)
                    let retried = statement.int(at: 9)
                    results.append(
                        SinkStats(
                            pipeline: statement.string(at: 0), sink: statement.string(at: 1),
                            total: statement.int(at: 2), succeeded: succeeded, failed: failed,
                            pending: statement.int(at: 5), retrying: statement.int(at: 6),
                            inFlight: statement.int(at: 7), attempted: attempted, retried: retried,
                            attemptCount: 0,
                            successRate: succeeded + failed > 0 ? Double(succeeded) / Double(succeeded + failed) : nil,
                            retryRate: attempted > 0 ? Double(retried) / Double(attempted) : nil,
                            latencyP50Ms: nil, latencyP95Ms: nil, latencyP99Ms: nil))
                }
            }
            for index in results.indices {
                let key = (results[index].pipeline, results[index].sink)
                let latency = try Self.latency(database, key: key, since: since)
                results[index].attemptCount = latency.count
                results[index].latencyP50Ms = latency.p50
                results[index].latencyP95Ms = latency.p95
                results[index].latencyP99Ms = latency.p99
            }
            return results
        }
    }

    /// How many deliveries are in each status (every status present, zero included). Scans the
    /// outbox, so it is for reports, not for a hot loop. Blocking.
    public func counts() throws -> [DeliveryStatus: Int] {
        try withDatabase { database in
            try database.withStatement("SELECT status, count(*) FROM deliveries GROUP BY status") { statement in
                var counts = Dictionary(uniqueKeysWithValues: DeliveryStatus.allCases.map { ($0, 0) })
                while try statement.step() {
                    if let status = DeliveryStatus(rawValue: statement.string(at: 0)) {
                        counts[status] = statement.int(at: 1)
                    }
                }
                return counts
            }
        }
    }

    // MARK: Helpers

    /// `detail`'s result inside the lock (a tuple cannot be declared `Sendable`-checked there).
    private struct DeliveryDetail: Sendable {
        var summary: DeliverySummary
        var attempts: [AttemptRow]
    }

    static let summaryColumns = """
        id, pipeline, sink, event_id, event_type, status, attempts, created_at, updated_at,
        next_attempt_at, last_error, last_http_status
        """

    static func summary(from statement: SQLiteStatement) -> DeliverySummary {
        let status = DeliveryStatus(rawValue: statement.string(at: 5)) ?? .pending
        let waiting = status == .pending || status == .retrying
        return DeliverySummary(
            id: DeliveryIDColumn.read(from: statement, at: 0), pipeline: statement.string(at: 1), sink: statement.string(at: 2),
            eventID: statement.string(at: 3), eventType: statement.string(at: 4), status: status,
            attempts: statement.int(at: 6), createdAtMs: statement.int64(at: 7),
            updatedAtMs: statement.int64(at: 8),
            nextAttemptMs: waiting ? statement.optionalInt64(at: 9) : nil,
            lastError: statement.optionalString(at: 10),
            lastHTTPStatus: statement.optionalInt64(at: 11).map { Int($0) })
    }

    /// A WHERE clause for a query and the values of its numbered parameters.
    private struct WhereClause {
        var sql: String
        var values: [String]
        var sinceMs: Int64?
        var firstParameter: Int
        var nextParameter: Int

        func bind(to statement: SQLiteStatement) throws {
            var index = firstParameter
            for value in values {
                try statement.bind(value, at: index)
                index += 1
            }
            if let sinceMs { try statement.bind(sinceMs, at: index) }
        }
    }

    /// The status is written as a literal, not a parameter, so SQLite can match it against the
    /// partial index on failed deliveries; it comes from the enum, never from user text.
    private static func whereClause(for query: DeliveryQuery, firstParameter: Int) -> WhereClause {
        var terms: [String] = []
        var values: [String] = []
        var parameter = firstParameter
        if let status = query.status { terms.append("status = '\(status.rawValue)'") }
        for (column, value) in [("pipeline", query.pipeline), ("sink", query.sink), ("event_type", query.eventType)] {
            guard let value else { continue }
            terms.append("\(column) = ?\(parameter)")
            values.append(value)
            parameter += 1
        }
        if query.sinceMs != nil {
            terms.append("updated_at >= ?\(parameter)")
            parameter += 1
        }
        return WhereClause(
            sql: terms.isEmpty ? "" : "WHERE " + terms.joined(separator: " AND "),
            values: values, sinceMs: query.sinceMs, firstParameter: firstParameter, nextParameter: parameter)
    }

    /// Nearest-rank percentiles (the value at 1-based rank ceil(p/100 × n)) of the attempt
    /// durations of one sink since `since`. SQLite walks the covering time index and hands back
    /// one row per distinct duration in ascending order, with its count; Swift keeps a running
    /// total. Nothing grows with the number of attempts here (SQLite's grouping sorter is bounded
    /// by the cache size and spills to a temp file beyond it).
    private static func latency(
        _ database: SQLiteDatabase, key: (String, String), since: Int64
    ) throws -> (count: Int, p50: Int64?, p95: Int64?, p99: Int64?) {
        let count = try database.withStatement(
            "SELECT count(*) FROM attempts WHERE pipeline = ?1 AND sink = ?2 AND started_at >= ?3"
        ) { statement in
            try statement.bind(key.0, at: 1)
            try statement.bind(key.1, at: 2)
            try statement.bind(since, at: 3)
            return try statement.step() ? statement.int(at: 0) : 0
        }
        guard count > 0 else { return (0, nil, nil, nil) }
        let ranks = [50, 95, 99].map { (percent: Int) in max(1, (percent * count + 99) / 100) }
        var values: [Int64?] = [nil, nil, nil]
        try database.withStatement(
            """
            SELECT duration_ms, count(*) FROM attempts
            WHERE pipeline = ?1 AND sink = ?2 AND started_at >= ?3
            GROUP BY duration_ms ORDER BY duration_ms
            """
        ) { statement in
            try statement.bind(key.0, at: 1)
            try statement.bind(key.1, at: 2)
            try statement.bind(since, at: 3)
            var seen = 0
            while values[2] == nil, try statement.step() {
                seen += statement.int(at: 1)
                for index in ranks.indices where values[index] == nil && seen >= ranks[index] {
                    values[index] = statement.int64(at: 0)
                }
            }
        }
        return (count, values[0], values[1], values[2])
    }
}
