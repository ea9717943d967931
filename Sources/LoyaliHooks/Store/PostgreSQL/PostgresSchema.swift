/// The PostgreSQL store's schema, as an ordered list of migrations, and the code that applies them.
///
/// The tables mirror the SQLite store's (same columns, same meanings), so both engines answer the
/// same contract. The version lives in `loyali_schema` (one row per applied migration).
///
/// Several nodes may start at once against an empty database: migrating holds a transaction-level
/// advisory lock, so one of them creates the schema and the others find it done. Never edit a
/// migration that has shipped: append one. A database whose version is higher than the last
/// migration's was written by a newer build and is refused.
enum PostgresSchema {
    /// The advisory lock key migrations hold (any constant; the ASCII of "loyalimg").
    static let migrationLockKey: Int64 = 0x6C6F_7961_6C69_6D67

    /// Every migration, oldest first.
    static let migrations: [StoreMigration] = [
        StoreMigration(
            version: 1, summary: "outbox with leases, attempt log with nodes, source checkpoints",
            sql: """
                CREATE TABLE deliveries (
                    -- Enqueue order; attempts refer to it, and "oldest first" follows it.
                    seq bigserial PRIMARY KEY,
                    id text NOT NULL UNIQUE CHECK (id <> ''),
                    pipeline text NOT NULL CHECK (pipeline <> ''),
                    sink text NOT NULL CHECK (sink <> ''),
                    event_id text NOT NULL,
                    event_type text NOT NULL,
                    schedule text NOT NULL CHECK (schedule <> ''),
                    status text NOT NULL CHECK (
                        status IN ('pending', 'retrying', 'in_flight', 'succeeded', 'failed')),
                    attempts integer NOT NULL DEFAULT 0,
                    schedule_offset integer NOT NULL DEFAULT 0,
                    next_attempt_at bigint,
                    created_at bigint NOT NULL,
                    updated_at bigint NOT NULL,
                    last_error text,
                    last_http_status integer,
                    -- While in_flight: the node holding the delivery, and until when (ms since the
                    -- Unix epoch). Other nodes take it back once lease_until has passed.
                    lease_owner text,
                    lease_until bigint,
                    -- Inline: written once, and PostgreSQL moves large values out of line (TOAST),
                    -- where an update of the row's other columns does not copy them.
                    body bytea NOT NULL
                );
                -- Partial indexes hold only the rows still waiting, so claiming and "when is the
                -- next one due" stay O(log n) however many deliveries have finished.
                CREATE INDEX deliveries_due_by_sink ON deliveries (pipeline, sink, next_attempt_at)
                    WHERE status IN ('pending', 'retrying');
                -- Expired leases are found without scanning the outbox.
                CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'in_flight';
                -- `resend --failed` and `deliveries --status failed`.
                CREATE INDEX deliveries_failed ON deliveries (pipeline, sink, updated_at)
                    WHERE status = 'failed';
                CREATE TABLE attempts (
                    delivery_seq bigint NOT NULL REFERENCES deliveries (seq) ON DELETE CASCADE,
                    attempt integer NOT NULL,
                    pipeline text NOT NULL,
                    sink text NOT NULL,
                    started_at bigint NOT NULL,
                    duration_ms bigint NOT NULL,
                    http_status integer,
                    error_class text,
                    error_message text,
                    response_snippet text,
                    outcome text NOT NULL CHECK (outcome IN ('succeeded', 'retry', 'failed')),
                    next_attempt_at bigint,
                    -- The node that made the attempt.
                    node text,
                    PRIMARY KEY (delivery_seq, attempt)
                );
                -- Covering: latency percentiles per sink read it in one range scan.
                CREATE INDEX attempts_by_sink ON attempts (pipeline, sink, started_at, duration_ms);
                CREATE TABLE checkpoints (
                    source text PRIMARY KEY,
                    byte_offset bigint NOT NULL,
                    updated_at bigint NOT NULL
                );
                """),
        StoreMigration(
            version: 2, summary: "indexes for the dashboard: attempts by time, deliveries by event id",
            sql: """
                -- The charts read attempts by start time; the log's search finds an event id.
                CREATE INDEX attempts_by_time ON attempts (started_at, outcome, duration_ms);
                CREATE INDEX deliveries_by_event ON deliveries (event_id);
                """),
        StoreMigration(
            version: 3, summary: "sink health: paused and disabled sinks, their probes and failure counts",
            sql: """
                -- One row per sink whose health ever changed; a sink without one is healthy.
                -- Every write bumps version, and writers compare it under the row's lock.
                CREATE TABLE sink_states (
                    pipeline text NOT NULL,
                    sink text NOT NULL,
                    status text NOT NULL CHECK (status IN ('healthy', 'paused', 'disabled')),
                    frozen_since bigint,
                    changed_at bigint,
                    next_probe_at bigint,
                    probe_interval bigint,
                    consecutive_failures integer NOT NULL DEFAULT 0,
                    failing_since bigint,
                    reason text NOT NULL DEFAULT '',
                    announced boolean NOT NULL DEFAULT true,
                    version bigint NOT NULL,
                    PRIMARY KEY (pipeline, sink)
                );
                """),
        StoreMigration(
            version: 4, summary: "maintained aggregates (rollups) for stats and the charts, kept by triggers, filled from the stored rows",
            sql: rollupsSQL),
        StoreMigration(
            version: 5, summary: "ordered delivery: each delivery's ordering key, and its unsettled deliveries by key",
            sql: """
                -- Set for sinks with `ordering:`; NULL otherwise. A claim takes an ordered row only
                -- while this index holds no earlier row of its sink and key, on any node.
                ALTER TABLE deliveries ADD COLUMN order_key text;
                CREATE INDEX deliveries_unsettled_by_key ON deliveries (pipeline, sink, order_key, seq)
                    WHERE order_key IS NOT NULL AND status IN ('pending', 'retrying', 'in_flight');
                """),
        StoreMigration(
            version: 6, summary: "the aggregates' update trigger sums rows before and after without joining them (quadratic plans)",
            sql: rollupsWithoutJoinSQL),
        StoreMigration(
            version: 7, summary: "attempts keep no foreign key to deliveries (a per-row check and row lock on every attempt)",
            sql: """
                -- Nothing deletes deliveries, and every write of an attempt joins the delivery it
                -- belongs to under that row's lock, so the key enforced nothing the writes do not.
                -- Its check cost an index lookup and a KEY SHARE lock per attempt row, one SPI
                -- query each (a seventh of recording a batch's time under pg_stat_statements).
                ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_delivery_seq_fkey;
                """),
        StoreMigration(
            version: 8, summary: "sink states keep the transition that made them, to announce it again after a crash",
            sql: """
                -- paused, resumed, disabled or enabled (SinkStateChange.Kind); NULL for states
                -- stored before. A state not announced yet is announced as this after a restart.
                ALTER TABLE sink_states ADD COLUMN last_change text;
                """),
        StoreMigration(
            version: 9, summary: "the attempt a node started on each delivery, so a reclaim logs only attempts that may have been sent",
            sql: """
                -- Set to attempts + 1 just before a node hands the delivery to its sink
                -- (DeliveryStore.markStarted); a value above attempts means that attempt started.
                -- A reclaim logs an interrupted attempt only for such rows; rows claimed but never
                -- started go back to the queue with no attempt. In no index, so setting it can be
                -- a heap-only (HOT) update that touches no index.
                ALTER TABLE deliveries ADD COLUMN started_attempt integer;
                """),
        StoreMigration(
            version: 10, summary: "the due index ends with seq, so a claim reads only the rows it takes",
            sql: """
                -- Claims take the oldest due rows, ORDER BY next_attempt_at, seq. Without seq in the
                -- index (SQLite's indexes end with the rowid; PostgreSQL's do not), rows due at the
                -- same ms (a whole ingest batch) came out unsorted, so every claim read and sorted
                -- all of them, each a heap visit, to lock its LIMIT: 1,000 rows for a claim of 32.
                CREATE INDEX deliveries_due_by_sink_seq ON deliveries (pipeline, sink, next_attempt_at, seq)
                    WHERE status IN ('pending', 'retrying');
                DROP INDEX deliveries_due_by_sink;
                ALTER INDEX deliveries_due_by_sink_seq RENAME TO deliveries_due_by_sink;
                """),
        StoreMigration(
            version: 11, summary: "the aggregates' triggers sum each row once, by minute, and make the hours from the minutes",
            sql: rollupsByMinuteSQL),
        StoreMigration(
            version: 12, summary: "deliveries' pages keep half their room, so marking an attempt started updates the row in place (HOT)",
            sql: """
                -- markStarted changes only started_attempt, in no index: a heap-only (HOT) update
                -- that writes no index entry, but only when the row's page has room for the new
                -- version. Rows are inserted in batches that filled their pages, so nearly every
                -- mark moved the row to another page and wrote all its index entries again (65
                -- buffers per mark). Pages filled to half take the mark in place. Applies to pages
                -- written from now on.
                ALTER TABLE deliveries SET (fillfactor = 50);
                """),
        StoreMigration(
            version: 13, summary: "the aggregates' update trigger writes nothing for an update that changes no counted state",
            sql: rollupsSkippingNoChangeSQL),
    ]

    /// The schema version this build writes.
    static var currentVersion: Int { migrations.last?.version ?? 0 }

    /// The version the database holds: 0 when it has no schema yet.
    static func version(of connection: PostgresConnection) throws -> Int {
        let exists = try connection.query("SELECT to_regclass('loyali_schema') IS NOT NULL").bool(0, 0)
        guard exists else { return 0 }
        return Int(try connection.query("SELECT coalesce(max(version), 0) FROM loyali_schema").int64(0, 0))
    }

    /// Brings the database up to the last of `migrations` in one transaction, or refuses one from
    /// a newer build with ``DeliveryStoreError`` `.schemaTooNew`. Returns the version it was at.
    @discardableResult
    static func migrate(
        _ connection: PostgresConnection, migrations: [StoreMigration] = migrations, nowMs: Int64
    ) throws -> Int {
        let known = migrations.last?.version ?? 0
        precondition(
            migrations.enumerated().allSatisfy { $0.element.version == $0.offset + 1 },
            "migrations must be numbered 1, 2, 3, … in order")
        // Cheap check first: a node restarting on a current schema takes no lock.
        let seen = try version(of: connection)
        guard seen <= known else {
            throw DeliveryStoreError.schemaTooNew(found: seen, known: known, path: connection.target.redacted)
        }
        if seen == known { return seen }
        return try connection.transaction {
            try connection.query("SELECT pg_advisory_xact_lock($1::bigint)", [.int64(migrationLockKey)])
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS loyali_schema (
                    version integer PRIMARY KEY,
                    summary text NOT NULL,
                    applied_at bigint NOT NULL
                )
                """)
            // Read under the lock: another node may have migrated meanwhile.
            let found = try version(of: connection)
            guard found <= known else {
                throw DeliveryStoreError.schemaTooNew(found: found, known: known, path: connection.target.redacted)
            }
            for migration in migrations where migration.version > found {
                try connection.execute(migration.sql)
                try connection.query(
                    "INSERT INTO loyali_schema (version, summary, applied_at) VALUES ($1::int, $2, $3::bigint)",
                    [.int(migration.version), .text(migration.summary), .int64(nowMs)])
            }
            return found
        }
    }
}
