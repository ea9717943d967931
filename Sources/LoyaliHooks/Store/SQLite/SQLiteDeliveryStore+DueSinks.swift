extension SQLiteDeliveryStore {
    /// See ``DeliveryStore/sinksWithDueWork(nowMs:window:)``. Blocking.
    public func sinksWithDueWork(nowMs: Int64, window: CreationWindow) throws -> [(pipeline: String, sink: String)] {
        try withDatabase { database in
            try database.withStatement(Self.dueSinksSQL) { statement in
                try statement.bind(nowMs, at: 1)
                try statement.bind(window.fromMs ?? .min, at: 2)
                try statement.bind(window.beforeMs ?? .max, at: 3)
                var sinks: [(pipeline: String, sink: String)] = []
                while try statement.step() { sinks.append((statement.string(at: 0), statement.string(at: 1))) }
                return sinks
            }
        }
    }

    /// A skip scan of `deliveries_due_by_sink`: each step seeks the next sink with unsettled
    /// deliveries (the next sink of the same pipeline, else the first of the next pipeline), so
    /// the cost follows the sinks with unsettled work, not their rows; SQLite's row-value range
    /// `(pipeline, sink) > (?, ?)` seeks on `pipeline` alone and walked every row of it. Then one
    /// seek per such sink for a due row inside the window.
    static let dueSinksSQL = """
        WITH RECURSIVE k(pipeline, sink) AS (
            SELECT * FROM (
                SELECT pipeline, sink FROM deliveries WHERE status IN ('pending', 'retrying') ORDER BY pipeline, sink LIMIT 1)
            UNION ALL
            SELECT d.pipeline, d.sink FROM k, deliveries AS d WHERE d.seq = coalesce(
                (SELECT e.seq FROM deliveries AS e
                    WHERE e.status IN ('pending', 'retrying') AND e.pipeline = k.pipeline AND e.sink > k.sink
                    ORDER BY e.pipeline, e.sink LIMIT 1),
                (SELECT e.seq FROM deliveries AS e
                    WHERE e.status IN ('pending', 'retrying') AND e.pipeline > k.pipeline
                    ORDER BY e.pipeline, e.sink LIMIT 1))
        )
        SELECT k.pipeline, k.sink FROM k WHERE EXISTS (
            SELECT 1 FROM deliveries AS d
            WHERE d.pipeline = k.pipeline AND d.sink = k.sink AND d.status IN ('pending', 'retrying')
                AND d.next_attempt_at <= ?1 AND d.created_at >= ?2 AND d.created_at < ?3)
        """
}
