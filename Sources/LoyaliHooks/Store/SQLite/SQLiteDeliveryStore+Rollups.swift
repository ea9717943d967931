/// The maintained aggregates on SQLite (the `rollups` table of migration 6, see ``RollupCounts``):
/// every write transaction gathers its changes in a ``RollupChanges`` and writes them here before
/// it commits; `stats` and the charts read them through ``RollupReader``.
extension SQLiteDeliveryStore {
    /// Adds `changes` to the `rollups` table, inside the caller's write transaction: one upsert per
    /// minute and per hour touched, and, where the change carries attempt durations, one read of
    /// the row's histogram to merge them into.
    static func write(_ changes: RollupChanges, to database: SQLiteDatabase) throws {
        let rows = changes.rows
        guard !rows.isEmpty else { return }
        let upsert = try database.cachedStatement(upsertRollupSQL)
        let read = try database.cachedStatement(
            "SELECT latency FROM rollups WHERE span = ?1 AND start = ?2 AND pipeline = ?3 AND sink = ?4")
        defer {
            for statement in [upsert, read] {
                statement.reset()
                statement.clearBindings()
            }
        }
        for (span, key, counts) in rows {
            var latency: String?
            if !counts.latency.isEmpty {
                read.reset()
                try read.bind(span, at: 1)
                try read.bind(key.startMs, at: 2)
                try read.bind(key.pipeline, at: 3)
                try read.bind(key.sink, at: 4)
                var merged = counts.latency
                if try read.step(), let stored = read.optionalString(at: 0) { merged.merge(text: stored) }
                read.reset()
                latency = merged.text
            }
            upsert.reset()
            try upsert.bind(span, at: 1)
            try upsert.bind(key.startMs, at: 2)
            try upsert.bind(key.pipeline, at: 3)
            try upsert.bind(key.sink, at: 4)
            for (offset, value) in counts.columnValues.enumerated() { try upsert.bind(value, at: 5 + offset) }
            try upsert.bind(latency, at: 15)
            try upsert.run()
        }
    }

    /// A NULL latency leaves the stored histogram as it is.
    private static let upsertRollupSQL = """
        INSERT OR ROLLBACK INTO rollups (span, start, pipeline, sink, \(RollupSQL.countColumns.joined(separator: ", ")), latency)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
        ON CONFLICT (span, start, pipeline, sink) DO UPDATE SET
            \(RollupSQL.countColumns.map { "\($0) = \($0) + excluded.\($0)" }.joined(separator: ", ")),
            latency = coalesce(excluded.latency, latency)
        """

    /// The state of a delivery as the aggregates count it, from a row's status text.
    static func rowState(status: String, attempts: Int, updatedAtMs: Int64) -> RollupChanges.RowState {
        RollupChanges.RowState(status: DeliveryStatus(rawValue: status) ?? .pending, attempts: attempts, updatedAtMs: updatedAtMs)
    }

    /// `stats` and the charts' reads, inside the caller's read transaction.
    struct RollupReads: RollupSource {
        let database: SQLiteDatabase

        func rollupRows(
            spanMs: Int64, fromMs: Int64, toMs: Int64?, bySink: Bool, _ body: (Int64, String, String, RollupCounts) -> Void
        ) throws {
            let key = bySink ? "0, pipeline, sink" : "start, '', ''"
            try database.withStatement(
                """
                SELECT \(key), \(RollupSQL.countColumns.map { "sum(\($0))" }.joined(separator: ", ")), group_concat(latency, ',')
                FROM rollups WHERE span = ?1 AND start >= ?2 AND start < ?3
                GROUP BY \(bySink ? "pipeline, sink" : "start")
                """
            ) { statement in
                try statement.bind(spanMs, at: 1)
                try statement.bind(fromMs, at: 2)
                try statement.bind(toMs ?? .max, at: 3)
                while try statement.step() {
                    let counts = RollupCounts(
                        columnValues: (3..<13).map { statement.int64(at: $0) }, latencyText: statement.optionalString(at: 13))
                    body(statement.int64(at: 0), statement.string(at: 1), statement.string(at: 2), counts)
                }
            }
        }

        func rawDeliveries(fromMs: Int64, toMs: Int64, _ body: (String, String, DeliveryStatus, Int) -> Void) throws {
            try database.withStatement(
                """
                SELECT pipeline, sink, status, attempts FROM deliveries INDEXED BY deliveries_by_update
                WHERE updated_at >= ?1 AND updated_at < ?2
                """
            ) { statement in
                try statement.bind(fromMs, at: 1)
                try statement.bind(toMs, at: 2)
                while try statement.step() {
                    body(
                        statement.string(at: 0), statement.string(at: 1),
                        DeliveryStatus(rawValue: statement.string(at: 2)) ?? .pending, statement.int(at: 3))
                }
            }
        }

        func rawAttempts(fromMs: Int64, toMs: Int64, _ body: (Int64, String, String, String, Int64) -> Void) throws {
            try database.withStatement(
                """
                SELECT started_at, pipeline, sink, outcome, duration_ms FROM attempts INDEXED BY attempts_by_time
                WHERE started_at >= ?1 AND started_at < ?2
                """
            ) { statement in
                try statement.bind(fromMs, at: 1)
                try statement.bind(toMs, at: 2)
                while try statement.step() {
                    body(
                        statement.int64(at: 0), statement.string(at: 1), statement.string(at: 2), statement.string(at: 3),
                        statement.int64(at: 4))
                }
            }
        }
    }

    /// The health table from the maintained aggregates (see ``RollupReader``), in one read
    /// transaction so every sink's figures come from the same snapshot. Blocking.
    public func stats(sinceMs: Int64?) throws -> [SinkStats] {
        try withDatabase { database in
            try database.execute("BEGIN")
            defer { try? database.execute("COMMIT") }
            return try RollupReader.stats(sinceMs: sinceMs, from: RollupReads(database: database))
        }
    }

    /// The charts' buckets from the maintained aggregates (see ``RollupReader``). Blocking.
    public func series(sinceMs: Int64, untilMs: Int64, bucketMs: Int64) throws -> [SeriesBucket] {
        try withDatabase { database in
            try database.execute("BEGIN")
            defer { try? database.execute("COMMIT") }
            return try RollupReader.series(sinceMs: sinceMs, untilMs: untilMs, bucketMs: bucketMs, from: RollupReads(database: database))
        }
    }
}
