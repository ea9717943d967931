extension PostgresDeliveryStore {
    /// See ``DeliveryStore/sinksWithDueWork(nowMs:window:)``: the same skip scan of
    /// `deliveries_due_by_sink` as the SQLite engine's, one seek per sink with unsettled
    /// deliveries. Blocking.
    public func sinksWithDueWork(nowMs: Int64, window: CreationWindow) throws -> [(pipeline: String, sink: String)] {
        try work.run { connection in
            let result = try connection.query(
                """
                WITH RECURSIVE k(pipeline, sink) AS (
                    (SELECT pipeline, sink FROM deliveries WHERE status IN ('pending', 'retrying') ORDER BY pipeline, sink LIMIT 1)
                    UNION ALL
                    SELECT n.pipeline, n.sink FROM k CROSS JOIN LATERAL (
                        (SELECT e.pipeline, e.sink FROM deliveries AS e
                            WHERE e.status IN ('pending', 'retrying') AND e.pipeline = k.pipeline AND e.sink > k.sink
                            ORDER BY e.pipeline, e.sink LIMIT 1)
                        UNION ALL
                        (SELECT e.pipeline, e.sink FROM deliveries AS e
                            WHERE e.status IN ('pending', 'retrying') AND e.pipeline > k.pipeline
                            ORDER BY e.pipeline, e.sink LIMIT 1)
                        ORDER BY 1, 2 LIMIT 1) AS n
                )
                SELECT k.pipeline, k.sink FROM k WHERE EXISTS (
                    SELECT 1 FROM deliveries AS d
                    WHERE d.pipeline = k.pipeline AND d.sink = k.sink AND d.status IN ('pending', 'retrying')
                        AND d.next_attempt_at <= $1::bigint AND d.created_at >= $2::bigint AND d.created_at < $3::bigint)
                """, [.int64(nowMs), .int64(window.fromMs ?? .min), .int64(window.beforeMs ?? .max)])
            return try (0..<result.rowCount).map { (try result.string($0, 0), try result.string($0, 1)) }
        }
    }
}
