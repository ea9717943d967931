/// PostgreSQL's maintained aggregates (migration 3): the `rollups` table of ``RollupCounts``, kept
/// up to date by statement-level triggers on `deliveries` and `attempts`, which see each
/// statement's rows before and after (transition tables) and write one grouped upsert per
/// statement, in its transaction. Triggers rather than code in each write: the engine's writes
/// are single statements (CTEs) that do not hand back a row's old state, and a trigger also keeps
/// the figures right for writes made by hand.
///
/// Every connection writes its own rows (`shard`, its backend's process id): nodes recording
/// at once never wait on, or deadlock over, one another's rollup rows. Reads add the shards up.
extension PostgresSchema {
    /// The bucket widths as a VALUES list.
    private static let spans = "(VALUES (\(RollupSQL.minuteMs)::bigint), (\(RollupSQL.hourMs)::bigint)) AS spans (span)"

    /// Upserts a grouped change of delivery states, `changes` being a query with a `sign` column
    /// and the rows' pipeline, sink, status, attempts and updated_at.
    private static func deliveryUpsert(_ changes: String) -> String {
        """
        INSERT INTO rollups AS r (span, start, pipeline, sink, shard, pending, retrying, in_flight, succeeded, failed, attempted, retried)
        SELECT span, \(RollupSQL.floorSQL("c.updated_at", "span")), c.pipeline, c.sink, pg_backend_pid(),
            sum(CASE WHEN c.status = 'pending' THEN c.sign ELSE 0 END), sum(CASE WHEN c.status = 'retrying' THEN c.sign ELSE 0 END),
            sum(CASE WHEN c.status = 'in_flight' THEN c.sign ELSE 0 END), sum(CASE WHEN c.status = 'succeeded' THEN c.sign ELSE 0 END),
            sum(CASE WHEN c.status = 'failed' THEN c.sign ELSE 0 END), sum(CASE WHEN c.attempts >= 1 THEN c.sign ELSE 0 END),
            sum(CASE WHEN c.attempts > 1 THEN c.sign ELSE 0 END)
        FROM (\(changes)) AS c CROSS JOIN \(spans)
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (span, start, pipeline, sink, shard) DO UPDATE SET
            pending = r.pending + excluded.pending, retrying = r.retrying + excluded.retrying,
            in_flight = r.in_flight + excluded.in_flight, succeeded = r.succeeded + excluded.succeeded,
            failed = r.failed + excluded.failed, attempted = r.attempted + excluded.attempted, retried = r.retried + excluded.retried
        """
    }

    /// Upserts a grouped change of attempts, `changes` being a query with a `sign` column and the
    /// attempts' pipeline, sink, started_at, outcome and duration_ms.
    private static func attemptUpsert(_ changes: String) -> String {
        """
        INSERT INTO rollups AS r (span, start, pipeline, sink, shard, attempts_succeeded, attempts_retried, attempts_failed, latency)
        SELECT span, start, pipeline, sink, pg_backend_pid(), sum(ok), sum(again), sum(bad),
            string_agg(bucket || ':' || n, ',' ORDER BY bucket)
        FROM (
            SELECT span, \(RollupSQL.floorSQL("c.started_at", "span")) AS start, c.pipeline, c.sink,
                \(RollupSQL.latencyBucketSQL("c.duration_ms")) AS bucket, sum(c.sign) AS n,
                sum(CASE WHEN c.outcome = 'succeeded' THEN c.sign ELSE 0 END) AS ok,
                sum(CASE WHEN c.outcome = 'retry' THEN c.sign ELSE 0 END) AS again,
                sum(CASE WHEN c.outcome NOT IN ('succeeded', 'retry') THEN c.sign ELSE 0 END) AS bad
            FROM (\(changes)) AS c CROSS JOIN \(spans)
            GROUP BY 1, 2, 3, 4, 5
        ) AS buckets
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (span, start, pipeline, sink, shard) DO UPDATE SET
            attempts_succeeded = r.attempts_succeeded + excluded.attempts_succeeded,
            attempts_retried = r.attempts_retried + excluded.attempts_retried,
            attempts_failed = r.attempts_failed + excluded.attempts_failed,
            latency = loyali_histogram_merge(r.latency, excluded.latency)
        """
    }

    /// ``deliveryUpsert(_:)`` summing each row once: the rows are first grouped by minute, and
    /// both bucket widths are made from those few groups (a minute never straddles an hour), where
    /// ``deliveryUpsert(_:)`` fed every row through the aggregates once per width.
    /// With `skippingNoChange`, minutes whose sums are all 0 write nothing (see
    /// ``rollupsSkippingNoChangeSQL``).
    private static func deliveryUpsertByMinute(_ changes: String, skippingNoChange: Bool = false) -> String {
        let minute = RollupSQL.floorSQL("c.updated_at", "\(RollupSQL.minuteMs)")
        let changed = ["pending", "retrying", "in_flight", "succeeded", "failed"].map { "sum(CASE WHEN c.status = '\($0)' THEN c.sign ELSE 0 END) <> 0" }
            + ["sum(CASE WHEN c.attempts >= 1 THEN c.sign ELSE 0 END) <> 0", "sum(CASE WHEN c.attempts > 1 THEN c.sign ELSE 0 END) <> 0"]
        return """
            INSERT INTO rollups AS r (span, start, pipeline, sink, shard, pending, retrying, in_flight, succeeded, failed, attempted, retried)
            SELECT span, \(RollupSQL.floorSQL("m.minute", "span")), m.pipeline, m.sink, pg_backend_pid(),
                sum(m.pending), sum(m.retrying), sum(m.in_flight), sum(m.succeeded), sum(m.failed), sum(m.attempted), sum(m.retried)
            FROM (
                SELECT \(minute) AS minute, c.pipeline, c.sink,
                    sum(CASE WHEN c.status = 'pending' THEN c.sign ELSE 0 END) AS pending,
                    sum(CASE WHEN c.status = 'retrying' THEN c.sign ELSE 0 END) AS retrying,
                    sum(CASE WHEN c.status = 'in_flight' THEN c.sign ELSE 0 END) AS in_flight,
                    sum(CASE WHEN c.status = 'succeeded' THEN c.sign ELSE 0 END) AS succeeded,
                    sum(CASE WHEN c.status = 'failed' THEN c.sign ELSE 0 END) AS failed,
                    sum(CASE WHEN c.attempts >= 1 THEN c.sign ELSE 0 END) AS attempted,
                    sum(CASE WHEN c.attempts > 1 THEN c.sign ELSE 0 END) AS retried
                FROM (\(changes)) AS c
                GROUP BY 1, 2, 3\(skippingNoChange ? "\n                HAVING " + changed.joined(separator: " OR ") : "")
            ) AS m CROSS JOIN \(spans)
            GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
            ON CONFLICT (span, start, pipeline, sink, shard) DO UPDATE SET
                pending = r.pending + excluded.pending, retrying = r.retrying + excluded.retrying,
                in_flight = r.in_flight + excluded.in_flight, succeeded = r.succeeded + excluded.succeeded,
                failed = r.failed + excluded.failed, attempted = r.attempted + excluded.attempted, retried = r.retried + excluded.retried
            """
    }

    /// ``attemptUpsert(_:)`` summing each row once, by minute and latency bucket, before both
    /// bucket widths are made from those groups (see ``deliveryUpsertByMinute(_:)``).
    private static func attemptUpsertByMinute(_ changes: String) -> String {
        let minute = RollupSQL.floorSQL("c.started_at", "\(RollupSQL.minuteMs)")
        return """
            INSERT INTO rollups AS r (span, start, pipeline, sink, shard, attempts_succeeded, attempts_retried, attempts_failed, latency)
            SELECT span, start, pipeline, sink, pg_backend_pid(), sum(ok), sum(again), sum(bad),
                string_agg(bucket || ':' || n, ',' ORDER BY bucket)
            FROM (
                SELECT span, \(RollupSQL.floorSQL("m.minute", "span")) AS start, m.pipeline, m.sink, m.bucket,
                    sum(m.n) AS n, sum(m.ok) AS ok, sum(m.again) AS again, sum(m.bad) AS bad
                FROM (
                    SELECT \(minute) AS minute, c.pipeline, c.sink,
                        \(RollupSQL.latencyBucketSQL("c.duration_ms")) AS bucket, sum(c.sign) AS n,
                        sum(CASE WHEN c.outcome = 'succeeded' THEN c.sign ELSE 0 END) AS ok,
                        sum(CASE WHEN c.outcome = 'retry' THEN c.sign ELSE 0 END) AS again,
                        sum(CASE WHEN c.outcome NOT IN ('succeeded', 'retry') THEN c.sign ELSE 0 END) AS bad
                    FROM (\(changes)) AS c
                    GROUP BY 1, 2, 3, 4
                ) AS m CROSS JOIN \(spans)
                GROUP BY 1, 2, 3, 4, 5
            ) AS buckets
            GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
            ON CONFLICT (span, start, pipeline, sink, shard) DO UPDATE SET
                attempts_succeeded = r.attempts_succeeded + excluded.attempts_succeeded,
                attempts_retried = r.attempts_retried + excluded.attempts_retried,
                attempts_failed = r.attempts_failed + excluded.attempts_failed,
                latency = loyali_histogram_merge(r.latency, excluded.latency)
            """
    }

    /// Migration 13: the deliveries update trigger writes nothing for minutes with no net change.
    /// An UPDATE that moves no counted state (marking attempts started before they are sent,
    /// renewing leases) upserted zeros into the same few rollup rows at every statement, and each
    /// such row version is one more for the next upsert of those rows to step over: with a mark
    /// per batch of sends, PostgreSQL's CPU went 4x in `bench/postgres.sh`.
    static let rollupsSkippingNoChangeSQL = """
        CREATE OR REPLACE FUNCTION loyali_rollup_updated_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(deliveryUpsertByMinute(updatedDeliveries, skippingNoChange: true));
            RETURN NULL;
        END $$;
        """

    /// Migration 11: the four trigger functions with ``deliveryUpsertByMinute(_:)`` and
    /// ``attemptUpsertByMinute(_:)``; same sums, same rows written.
    static let rollupsByMinuteSQL = """
        CREATE OR REPLACE FUNCTION loyali_rollup_inserted_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(deliveryUpsertByMinute("SELECT 1 AS sign, pipeline, sink, status, attempts, updated_at FROM new_rows"));
            RETURN NULL;
        END $$;
        CREATE OR REPLACE FUNCTION loyali_rollup_updated_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(deliveryUpsertByMinute(updatedDeliveries));
            RETURN NULL;
        END $$;
        CREATE OR REPLACE FUNCTION loyali_rollup_inserted_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(attemptUpsertByMinute("SELECT 1 AS sign, pipeline, sink, started_at, outcome, duration_ms FROM new_rows"));
            RETURN NULL;
        END $$;
        CREATE OR REPLACE FUNCTION loyali_rollup_updated_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(attemptUpsertByMinute("""
                SELECT -1 AS sign, pipeline, sink, started_at, outcome, duration_ms FROM old_rows
                UNION ALL SELECT 1, pipeline, sink, started_at, outcome, duration_ms FROM new_rows
                """));
            RETURN NULL;
        END $$;
        """

    /// The rows of an UPDATE whose state as the aggregates count it changed, before (−1) and after (+1).
    private static let changedDeliveries = """
        SELECT -1 AS sign, o.pipeline, o.sink, o.status, o.attempts, o.updated_at
        FROM old_rows AS o JOIN new_rows AS n USING (seq)
        WHERE (o.status, o.attempts, o.updated_at) IS DISTINCT FROM (n.status, n.attempts, n.updated_at)
        UNION ALL
        SELECT 1, n.pipeline, n.sink, n.status, n.attempts, n.updated_at
        FROM old_rows AS o JOIN new_rows AS n USING (seq)
        WHERE (o.status, o.attempts, o.updated_at) IS DISTINCT FROM (n.status, n.attempts, n.updated_at)
        """

    /// Every row of an UPDATE before (−1) and after (+1), with no join: the upsert only sums signs,
    /// so a row whose counted state did not change adds −1 and +1 to the same bucket and cancels.
    /// It replaces ``changedDeliveries``, whose join of the two transition tables PL/pgSQL planned
    /// once, at a first small statement (a transition table is estimated at one row), as a nested
    /// loop: a record of 4,273 rows compared 18 million pairs and took 13 s.
    private static let updatedDeliveries = """
        SELECT -1 AS sign, pipeline, sink, status, attempts, updated_at FROM old_rows
        UNION ALL
        SELECT 1, pipeline, sink, status, attempts, updated_at FROM new_rows
        """

    /// Migration 6: the update trigger's function without the join (see ``updatedDeliveries``).
    static let rollupsWithoutJoinSQL = """
        CREATE OR REPLACE FUNCTION loyali_rollup_updated_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(deliveryUpsert(updatedDeliveries));
            RETURN NULL;
        END $$;
        """

    /// Migration 4's statements.
    static let rollupsSQL = """
        CREATE TABLE rollups (
            span bigint NOT NULL,
            start bigint NOT NULL,
            pipeline text NOT NULL,
            sink text NOT NULL,
            shard integer NOT NULL,
            \(RollupSQL.countColumns.map { "\($0) bigint NOT NULL DEFAULT 0," }.joined(separator: "\n    "))
            latency text,
            PRIMARY KEY (span, start, pipeline, sink, shard)
        );
        -- Adds two LatencyHistogram texts ("bucket:count,…") bucket by bucket.
        CREATE FUNCTION loyali_histogram_merge(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
            SELECT coalesce(string_agg(k || ':' || n, ',' ORDER BY k), '') FROM (
                SELECT split_part(p, ':', 1)::integer AS k, sum(split_part(p, ':', 2)::bigint) AS n
                FROM unnest(string_to_array(coalesce(a, ''), ',') || string_to_array(coalesce(b, ''), ',')) AS p
                WHERE p <> '' GROUP BY 1
            ) AS merged WHERE n <> 0
        $$;
        CREATE FUNCTION loyali_rollup_inserted_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(deliveryUpsert("SELECT 1 AS sign, pipeline, sink, status, attempts, updated_at FROM new_rows"));
            RETURN NULL;
        END $$;
        CREATE FUNCTION loyali_rollup_updated_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(deliveryUpsert(changedDeliveries));
            RETURN NULL;
        END $$;
        CREATE FUNCTION loyali_rollup_inserted_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(attemptUpsert("SELECT 1 AS sign, pipeline, sink, started_at, outcome, duration_ms FROM new_rows"));
            RETURN NULL;
        END $$;
        -- Re-recording an attempt number overwrites the attempt: count the new one instead of the old.
        CREATE FUNCTION loyali_rollup_updated_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(attemptUpsert("""
                SELECT -1 AS sign, pipeline, sink, started_at, outcome, duration_ms FROM old_rows
                UNION ALL SELECT 1, pipeline, sink, started_at, outcome, duration_ms FROM new_rows
                """));
            RETURN NULL;
        END $$;
        CREATE TRIGGER deliveries_rollup_insert AFTER INSERT ON deliveries REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION loyali_rollup_inserted_deliveries();
        CREATE TRIGGER deliveries_rollup_update AFTER UPDATE ON deliveries REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION loyali_rollup_updated_deliveries();
        CREATE TRIGGER attempts_rollup_insert AFTER INSERT ON attempts REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION loyali_rollup_inserted_attempts();
        CREATE TRIGGER attempts_rollup_update AFTER UPDATE ON attempts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION loyali_rollup_updated_attempts();
        \(RollupSQL.backfillSQL(
            concat: { "string_agg(\($0), ',' ORDER BY bucket)" }, upsertKey: "span, start, pipeline, sink, shard",
            extraColumns: ", shard", extraValues: ", 0"))
        -- The edges of a window (the part of a minute) read deliveries by updated_at.
        CREATE INDEX deliveries_by_update ON deliveries (updated_at);
        -- Only the per-sink latency query of stats read it; the rollups answer that now.
        DROP INDEX attempts_by_sink;
        """
}
