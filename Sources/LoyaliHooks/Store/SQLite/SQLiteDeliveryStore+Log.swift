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
                var rollup = RollupChanges()
                let read = try database.cachedStatement(
                    "SELECT pipeline, sink, status, attempts, updated_at FROM deliveries WHERE id = ?1 AND status <> 'in_flight'")
                defer {
                    read.reset()
                    read.clearBindings()
                }
                try database.withStatement(
                    """
                    UPDATE OR ROLLBACK deliveries
                    SET status = 'pending', next_attempt_at = ?2, schedule_offset = attempts, updated_at = ?2
                    WHERE id = ?1 AND status <> 'in_flight'
                    """
                ) { statement in
                    try statement.bind(nowMs, at: 2)
                    for id in unique {
                        read.reset()
                        try DeliveryIDColumn.bind(id, to: read, at: 1)
                        if try read.step() {
                            let attempts = read.int(at: 3)
                            rollup.move(
                                pipeline: read.string(at: 0), sink: read.string(at: 1),
                                from: Self.rowState(status: read.string(at: 2), attempts: attempts, updatedAtMs: read.int64(at: 4)),
                                to: RollupChanges.RowState(status: .pending, attempts: attempts, updatedAtMs: nowMs))
                        }
                        read.reset()
                        statement.reset()
                        try DeliveryIDColumn.bind(id, to: statement, at: 1)
                        try statement.run()
                        if database.changes == 1 { result.queued.append(id) } else { refused.append(id) }
                    }
                }
                try Self.write(rollup, to: database)
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
        let readSQL = "SELECT pipeline, sink, status, attempts, updated_at FROM deliveries INDEXED BY deliveries_failed \(clause.sql)"
        return try withDatabase { database in
            try database.transaction {
                // The rows it is about to queue again, as they are, in the same transaction.
                var rollup = RollupChanges()
                try database.withStatement(readSQL) { statement in
                    try clause.bind(to: statement)
                    while try statement.step() {
                        let attempts = statement.int(at: 3)
                        rollup.move(
                            pipeline: statement.string(at: 0), sink: statement.string(at: 1),
                            from: Self.rowState(status: statement.string(at: 2), attempts: attempts, updatedAtMs: statement.int64(at: 4)),
                            to: RollupChanges.RowState(status: .pending, attempts: attempts, updatedAtMs: nowMs))
                    }
                }
                let queued = try database.withStatement(sql) { statement in
                    try statement.bind(nowMs, at: 1)
                    try clause.bind(to: statement)
                    try statement.run()
                    return database.changes
                }
                try Self.write(rollup, to: database)
                return queued
            }
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
}
