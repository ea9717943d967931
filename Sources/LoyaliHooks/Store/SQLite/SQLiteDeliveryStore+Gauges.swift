extension SQLiteDeliveryStore {
    /// The queue depth and failed count of every (pipeline, sink) that has either, sorted by
    /// pipeline then sink. Both counts walk partial indexes that hold only those rows, never the
    /// whole outbox. Blocking; call off the cooperative pool (a second store connection keeps it
    /// from waiting behind the runner's writes in WAL mode).
    public func outboxGauges() throws -> [OutboxGauge] {
        try withDatabase { database in
            var gauges: [String: OutboxGauge] = [:]
            // The status literals repeat the partial indexes' conditions so SQLite uses them.
            for (sql, isWaiting) in [
                ("SELECT pipeline, sink, count(*) FROM deliveries WHERE status IN ('pending', 'retrying') GROUP BY pipeline, sink", true),
                ("SELECT pipeline, sink, count(*) FROM deliveries WHERE status = 'failed' GROUP BY pipeline, sink", false),
            ] {
                try database.withStatement(sql) { statement in
                    while try statement.step() {
                        let pipeline = statement.string(at: 0)
                        let sink = statement.string(at: 1)
                        let key = pipeline + "\u{0}" + sink
                        var gauge = gauges[key] ?? OutboxGauge(pipeline: pipeline, sink: sink, waiting: 0, failed: 0)
                        if isWaiting { gauge.waiting = statement.int(at: 2) } else { gauge.failed = statement.int(at: 2) }
                        gauges[key] = gauge
                    }
                }
            }
            return gauges.values.sorted { ($0.pipeline, $0.sink) < ($1.pipeline, $1.sink) }
        }
    }
}
