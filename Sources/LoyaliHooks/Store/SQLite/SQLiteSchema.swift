/// The state database's schema, as an ordered list of migrations, and the code that applies them.
///
/// Never edit a migration that has shipped: append a new one. A database whose `user_version` is
/// higher than the last migration's was written by a newer build and is refused, since this build
/// cannot know what the newer columns mean.
enum SQLiteSchema {
    /// Every migration, oldest first.
    static let migrations: [StoreMigration] = [
        StoreMigration(
            version: 1, summary: "outbox, bodies, attempt log and source checkpoints",
            sql: """
                CREATE TABLE deliveries (
                    -- Enqueue order; attempts and bodies refer to it, and "oldest first" follows it.
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE CHECK (id <> ''),
                    pipeline TEXT NOT NULL CHECK (pipeline <> ''),
                    sink TEXT NOT NULL CHECK (sink <> ''),
                    event_id TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    schedule TEXT NOT NULL CHECK (schedule <> ''),
                    -- ORs, not IN (…): SQLite builds a temporary b-tree for an IN list of more
                    -- than two values on every row it checks, a measurable cost per write.
                    status TEXT NOT NULL CHECK (
                        status = 'pending' OR status = 'retrying' OR status = 'in_flight'
                        OR status = 'succeeded' OR status = 'failed'),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    schedule_offset INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    last_error TEXT,
                    last_http_status INTEGER
                );
                -- Foreign keys are checked at commit (DEFERRED): an immediate check would make
                -- SQLite keep a statement journal for every insert of a batch.
                -- Bodies live apart and are written once: every claim and attempt rewrites its
                -- delivery row, and a small row means fewer pages written per batch.
                CREATE TABLE delivery_bodies (
                    seq INTEGER PRIMARY KEY
                        REFERENCES deliveries (seq) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
                    body BLOB NOT NULL
                );
                -- Partial indexes hold only the rows still waiting to be sent, so claiming and
                -- "when is the next one due" stay O(log n) however many deliveries have finished.
                CREATE INDEX deliveries_due_by_sink ON deliveries (pipeline, sink, next_attempt_at)
                    WHERE status IN ('pending', 'retrying');
                CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
                    WHERE status IN ('pending', 'retrying');
                CREATE TABLE attempts (
                    delivery_seq INTEGER NOT NULL
                        REFERENCES deliveries (seq) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
                    attempt INTEGER NOT NULL,
                    pipeline TEXT NOT NULL,
                    sink TEXT NOT NULL,
                    started_at INTEGER NOT NULL,
                    duration_ms INTEGER NOT NULL,
                    http_status INTEGER,
                    error_class TEXT,
                    error_message TEXT,
                    response_snippet TEXT,
                    outcome TEXT NOT NULL
                        CHECK (outcome = 'succeeded' OR outcome = 'retry' OR outcome = 'failed'),
                    next_attempt_at INTEGER,
                    PRIMARY KEY (delivery_seq, attempt)
                );
                CREATE TABLE checkpoints (
                    source TEXT PRIMARY KEY,
                    byte_offset INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                """),
        StoreMigration(
            version: 2, summary: "indexes for the delivery log: stats per sink and failed deliveries",
            sql: """
                -- Covering and append-mostly (time order): latency percentiles read it in one
                -- range scan, and recording an attempt touches only its last pages.
                CREATE INDEX attempts_by_sink ON attempts (pipeline, sink, started_at, duration_ms);
                -- Failed deliveries are few; `resend --failed` and `deliveries --status failed`
                -- find them without scanning the outbox.
                CREATE INDEX deliveries_failed ON deliveries (pipeline, sink, updated_at)
                    WHERE status = 'failed';
                """),
        StoreMigration(
            version: 3, summary: "drop the all-sinks due index; runners ask per sink",
            sql: """
                -- Every enqueue and every claim paid for it, and no runner asked "what is due
                -- across all sinks": each lane reads deliveries_due_by_sink.
                DROP INDEX deliveries_due;
                """),
        StoreMigration(
            version: 4, summary: "claim leases (owner node, deadline) and the node that made each attempt",
            sql: """
                -- Meaningful while status = 'in_flight': which node holds the delivery, and until
                -- when (ms since the Unix epoch). No index: one SQLite node holds the state
                -- directory, so only a store shared by several nodes looks rows up by lease.
                ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
                ALTER TABLE deliveries ADD COLUMN lease_until INTEGER;
                -- NULL for attempts logged before this version.
                ALTER TABLE attempts ADD COLUMN node TEXT;
                """),
        StoreMigration(
            version: 5, summary: "indexes for the dashboard: health by time window, charts, id search",
            sql: """
                -- Covering: the health table's window (updated_at >= ?) is a range scan instead of a
                -- walk over the whole outbox.
                CREATE INDEX deliveries_by_update ON deliveries (updated_at, pipeline, sink, status, attempts);
                -- Covering and append-mostly: the charts read a time range of attempts in order.
                CREATE INDEX attempts_by_time ON attempts (started_at, outcome, duration_ms);
                -- The delivery log's search by event id.
                CREATE INDEX deliveries_by_event ON deliveries (event_id);
                """),
        StoreMigration(
            version: 6, summary: "sink health: paused and disabled sinks, their probes and failure counts",
            sql: """
                -- One row per sink whose health ever changed; a sink without one is healthy.
                -- Every write bumps version, and writers compare it first (compare-and-set).
                CREATE TABLE sink_states (
                    pipeline TEXT NOT NULL,
                    sink TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status = 'healthy' OR status = 'paused' OR status = 'disabled'),
                    -- When deliveries stopped going out; their due times move on by the time since
                    -- when the sink is healthy again.
                    frozen_since INTEGER,
                    changed_at INTEGER,
                    next_probe_at INTEGER,
                    probe_interval INTEGER,
                    consecutive_failures INTEGER NOT NULL DEFAULT 0,
                    failing_since INTEGER,
                    reason TEXT NOT NULL DEFAULT '',
                    announced INTEGER NOT NULL DEFAULT 1,
                    version INTEGER NOT NULL,
                    PRIMARY KEY (pipeline, sink)
                );
                """),
        StoreMigration(
            version: 7, summary: "maintained aggregates (rollups) for stats and the charts, filled from the stored rows",
            sql: """
                -- Per minute and per hour (span, ms) and sink: deliveries by status counted in the
                -- bucket of their updated_at, and attempts by outcome with a latency histogram in
                -- the bucket of their started_at (RollupCounts). Every write keeps it up to date in
                -- its own transaction, so stats and the charts read a few hundred rows, not the log.
                CREATE TABLE rollups (
                    span INTEGER NOT NULL,
                    start INTEGER NOT NULL,
                    pipeline TEXT NOT NULL,
                    sink TEXT NOT NULL,
                    \(RollupSQL.countColumns.map { "\($0) INTEGER NOT NULL DEFAULT 0," }.joined(separator: "\n"))
                    -- LatencyHistogram's text: "bucket:count,…".
                    latency TEXT,
                    PRIMARY KEY (span, start, pipeline, sink)
                ) WITHOUT ROWID;
                \(RollupSQL.backfillSQL(concat: { "group_concat(\($0), ',')" }, upsertKey: "span, start, pipeline, sink"))
                -- Only the per-sink latency query of stats read it; the rollups answer that now,
                -- and each attempt written is one index insert fewer.
                DROP INDEX attempts_by_sink;
                """),
        StoreMigration(
            version: 8, summary: "an index of the deliveries in flight, for the delivery log's status filter",
            sql: """
                -- Rows are in it only between their claim and their attempt's record: small and
                -- hot. Without it, the log filtered to in flight walks the whole outbox.
                CREATE INDEX deliveries_in_flight ON deliveries (seq) WHERE status = 'in_flight';
                """),
        StoreMigration(
            version: 9, summary: "ordered delivery: each delivery's ordering key, and its unsettled deliveries by key",
            sql: """
                -- Set for sinks with `ordering:`; NULL otherwise, so unordered rows cost the index
                -- nothing. A claim takes an ordered row only while this index holds no earlier
                -- row of its sink and key.
                ALTER TABLE deliveries ADD COLUMN order_key TEXT;
                CREATE INDEX deliveries_unsettled_by_key ON deliveries (pipeline, sink, order_key, seq)
                    WHERE order_key IS NOT NULL AND status IN ('pending', 'retrying', 'in_flight');
                """),
        StoreMigration(
            version: 10, summary: "the delivery log sorted by latest activity: every filter read in that order from an index",
            sql: """
                -- The log is sorted by (updated_at, seq), newest first (SQLiteLogQuery). This index
                -- replaces the one of migration 5 with seq right after updated_at, so it is in the
                -- log's order exactly, and every filter column, so each is checked in the index
                -- entry: a page reads entries from the cursor or the window's end until it is full.
                -- Same number of index writes per delivery as before; stats' edges still cover on it.
                DROP INDEX deliveries_by_update;
                CREATE INDEX deliveries_by_update ON deliveries (updated_at, seq, status, pipeline, sink, event_type, attempts);
                -- The failed ones in the log's order: few, and written only when a delivery fails.
                CREATE INDEX deliveries_failed_by_update ON deliveries (updated_at, seq, pipeline, sink, event_type)
                    WHERE status = 'failed';
                """),
        StoreMigration(
            version: 11, summary: "sink states keep the transition that made them, to announce it again after a crash",
            sql: """
                -- paused, resumed, disabled or enabled (SinkStateChange.Kind); NULL for states
                -- stored before. A state not announced yet is announced as this after a restart.
                ALTER TABLE sink_states ADD COLUMN last_change TEXT;
                """),
        StoreMigration(
            version: 12, summary: "the attempt a node started on each delivery, so a crash logs only attempts that may have been sent",
            sql: """
                -- Set to attempts + 1 just before the runner hands the delivery to its sink
                -- (DeliveryStore.markStarted); a value above attempts means that attempt started.
                -- Recovery and lease reclaims log an interrupted attempt only for such rows; rows
                -- claimed but never started go back to the queue with no attempt. In no index, so
                -- setting it rewrites the row alone.
                ALTER TABLE deliveries ADD COLUMN started_attempt INTEGER;
                """),
        StoreMigration(
            version: 13, summary: "ordered delivery: the unsettled-by-key index's condition without an IN list",
            sql: """
                -- Migration 9 wrote its condition as status IN (three values). SQLite checks a
                -- partial index's condition on every write of a row that may be in it (twice for
                -- an update: the old row and the new), and builds a temporary b-tree for an IN
                -- list of more than two values each time: for ordered rows, a page allocated,
                -- zeroed and freed per check, an eighth of ordered delivery's instructions. ORs are
                -- plain comparisons. Same rows, same order: queries repeat the ORs word for word.
                DROP INDEX deliveries_unsettled_by_key;
                CREATE INDEX deliveries_unsettled_by_key ON deliveries (pipeline, sink, order_key, seq)
                    WHERE order_key IS NOT NULL AND (status = 'pending' OR status = 'retrying' OR status = 'in_flight');
                """),
    ]

    /// The schema version this build writes.
    static var currentVersion: Int { migrations.last?.version ?? 0 }

    /// The database's `PRAGMA user_version`.
    static func version(of database: SQLiteDatabase) throws -> Int {
        Int(try database.scalarInt64("PRAGMA user_version") ?? 0)
    }

    /// Brings `database` up to the last of `migrations` in one transaction, or refuses a database
    /// from a newer build. Returns the version it was at before.
    @discardableResult
    static func migrate(_ database: SQLiteDatabase, migrations: [StoreMigration] = migrations) throws -> Int {
        let known = migrations.last?.version ?? 0
        precondition(
            migrations.enumerated().allSatisfy { $0.element.version == $0.offset + 1 },
            "migrations must be numbered 1, 2, 3, … in order")
        return try database.transaction {
            // Read inside the write transaction: another process may have migrated meanwhile.
            let found = try version(of: database)
            guard found <= known else {
                throw DeliveryStoreError.schemaTooNew(found: found, known: known, path: database.path)
            }
            for migration in migrations where migration.version > found {
                try database.execute(migration.sql)
                // user_version lives in the file header and is written by this same transaction.
                try database.execute("PRAGMA user_version = \(migration.version)")
            }
            return found
        }
    }
}
