/// What both engines share about the `rollups` table (see ``RollupCounts``): its bucket widths,
/// its columns, and the SQL that fills it from the outbox and the attempt log when a migration
/// creates it on an existing store.
enum RollupSQL {
    /// The two bucket widths kept: minutes serve the 1-hour chart and the edges of any window,
    /// hours everything longer (a week is 168 rows per sink, not 10,080).
    static let minuteMs: Int64 = 60_000
    static let hourMs: Int64 = 3_600_000

    /// The count columns, in the order of ``RollupCounts/columnValues``; `latency` (text, see
    /// ``LatencyHistogram``) comes after them.
    static let countColumns = [
        "pending", "retrying", "in_flight", "succeeded", "failed", "attempted", "retried",
        "attempts_succeeded", "attempts_retried", "attempts_failed",
    ]

    /// The start of the `width`-wide bucket holding `ms` (floor, also below 0).
    static func floor(_ ms: Int64, _ width: Int64) -> Int64 {
        let remainder = ms % width
        return remainder < 0 ? ms - remainder - width : ms - remainder
    }

    /// The same floor in SQL, for an integer expression.
    static func floorSQL(_ expression: String, _ width: String) -> String {
        "(\(expression) - ((\(expression) % \(width)) + \(width)) % \(width))"
    }

    /// ``LatencyHistogram/bucket(of:)`` as an SQL expression over an integer column, for the
    /// backfill (and PostgreSQL's trigger): a CASE over the powers of two, since neither engine
    /// has an integer log2 everywhere.
    static func latencyBucketSQL(_ column: String) -> String {
        var cases = ["WHEN \(column) < 0 THEN 0", "WHEN \(column) < 32 THEN \(column)"]
        for exponent in 5...62 {
            let base = 32 + (exponent - 5) * 16 - 16
            let bound = exponent == 62 ? "9223372036854775807" : String(Int64(1) << (exponent + 1))
            cases.append("WHEN \(column) < \(bound) THEN \(base) + (\(column) >> \(exponent - 4))")
        }
        return "(CASE " + cases.joined(separator: " ") + " ELSE 959 END)"
    }

    /// The backfill of a new `rollups` table from the deliveries and attempts already stored:
    /// two statements per bucket width, deliveries by `updated_at`, attempts by `started_at` with
    /// their latency text built by `concat` (SQLite's `group_concat`, PostgreSQL's `string_agg`).
    /// `WHERE true`: SQLite would read an upsert's ON after a bare FROM as a join constraint.
    /// `extraColumns`/`extraValues` add columns (PostgreSQL's shard).
    static func backfillSQL(concat: (String) -> String, upsertKey: String, extraColumns: String = "", extraValues: String = "") -> String {
        var statements: [String] = []
        for width in [minuteMs, hourMs] {
            let delivered = floorSQL("updated_at", "\(width)")
            statements.append(
                """
                INSERT INTO rollups (span, start, pipeline, sink\(extraColumns), pending, retrying, in_flight, succeeded, failed, attempted, retried)
                SELECT \(width), \(delivered), pipeline, sink\(extraValues),
                    sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), sum(CASE WHEN status = 'retrying' THEN 1 ELSE 0 END),
                    sum(CASE WHEN status = 'in_flight' THEN 1 ELSE 0 END), sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END),
                    sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), sum(CASE WHEN attempts >= 1 THEN 1 ELSE 0 END),
                    sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END)
                FROM deliveries WHERE true GROUP BY 2, pipeline, sink
                ON CONFLICT (\(upsertKey)) DO NOTHING
                """)
            let started = floorSQL("started_at", "\(width)")
            statements.append(
                """
                INSERT INTO rollups (span, start, pipeline, sink\(extraColumns), attempts_succeeded, attempts_retried, attempts_failed, latency)
                SELECT \(width), start, pipeline, sink\(extraValues), sum(ok), sum(retried), sum(bad), \(concat("bucket || ':' || n"))
                FROM (
                    SELECT \(started) AS start, pipeline, sink, \(latencyBucketSQL("duration_ms")) AS bucket, count(*) AS n,
                        sum(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END) AS ok,
                        sum(CASE WHEN outcome = 'retry' THEN 1 ELSE 0 END) AS retried,
                        sum(CASE WHEN outcome NOT IN ('succeeded', 'retry') THEN 1 ELSE 0 END) AS bad
                    FROM attempts GROUP BY 1, pipeline, sink, 4
                ) AS buckets
                WHERE true GROUP BY start, pipeline, sink
                ON CONFLICT (\(upsertKey)) DO UPDATE SET attempts_succeeded = excluded.attempts_succeeded,
                    attempts_retried = excluded.attempts_retried, attempts_failed = excluded.attempts_failed, latency = excluded.latency
                """)
        }
        return statements.joined(separator: ";\n") + ";"
    }
}
