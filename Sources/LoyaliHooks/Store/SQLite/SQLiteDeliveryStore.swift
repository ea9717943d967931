import Foundation

/// The default ``DeliveryStore``: the outbox of deliveries, the attempt log and the source
/// checkpoints, in one SQLite file (`loyali-hooks.db`) in the state directory, for one node.
///
/// Durability: WAL journal with `synchronous = FULL`, so when a write method returns its
/// transaction is on disk and a source position may be acknowledged. Each batch method is one
/// transaction: it happens entirely or not at all.
///
/// Threading: one connection, serialized by an internal lock, so a store is `Sendable` and
/// may be shared. Several processes (one runner, holding the directory's ``StateDirectoryLock``,
/// and the CLI's `resend`, `deliveries`, `stats`) may open the same directory; SQLite's locks and
/// a 5 s busy timeout arbitrate between them. **Every method blocks
/// on disk I/O and may wait for the lock: call it off Swift's cooperative thread pool** (from a
/// dedicated thread, as the runner does).
///
/// Durability is relaxed in exactly three places, `claimDue`, `markStarted` and `record`, which
/// commit without an fsync: they survive a crash of the process, and the next durable commit syncs
/// them too; a power loss in between can only make deliveries due again, i.e. sent again with the
/// same id (and, since the undone claim, mark and record leave no trace, possibly with an attempt
/// number the receiver has seen; a process crash never does that, see
/// `SQLiteDeliveryStore+Recovery.swift`).
///
/// Memory stays flat however large the outbox grows: queries walk indexes with `LIMIT`, and the
/// page cache is capped at 16 MB.
public final class SQLiteDeliveryStore: DeliveryStore {
    /// The database file's name inside the state directory.
    public static let fileName = "loyali-hooks.db"
    /// The state directory used when neither `--state` nor `LOYALI_HOOKS_STATE` is given.
    public static let defaultDirectory = ".loyali-hooks"
    /// The schema version this build reads and writes.
    public static var schemaVersion: Int { SQLiteSchema.currentVersion }

    /// The database file.
    public let path: String
    /// The node this store acts for (see ``DeliveryStore/nodeID``).
    public let nodeID: String
    /// How long a claim's lease runs, in ms.
    public let leaseMs: Int64
    /// Always ``StoreEngine/sqlite``.
    public var engine: StoreEngine { .sqlite }
    /// The database file.
    public var location: String { path }
    /// `false`: the state directory's lock admits one node, so leases never need renewing.
    public var isShared: Bool { false }

    /// None: the state directory's lock admits one node.
    public func otherNodes() throws -> Int { 0 }
    /// A sleeping lock, not `Mutex`: it is held across transactions and their fsyncs (see
    /// ``SleepingMutex``).
    let state: SleepingMutex<Connection>
    /// Whether writes go through (see ``writeFailure``).
    let health = WriteHealth()

    /// The connection, and where the rows this store has claimed live, so that recording their
    /// attempts needs no lookup by id (ids are hashes: each lookup is a random index read).
    struct Connection {
        let database: SQLiteDatabase
        var claimed: [String: ClaimedRow] = [:]
    }

    /// A claimed delivery's row and sink, and its state as the aggregates count it (in flight
    /// since the claim), so recording its attempt knows what to move without reading the row.
    struct ClaimedRow {
        var sequence: Int64
        var pipeline: String
        var sink: String
        var state: RollupChanges.RowState
        /// Its ordering key, if its sink keeps one: settling it lets the next of the key go.
        var orderKey: String? = nil
    }

    /// Opens the store in `directory` (created if missing), creating or migrating its database.
    ///
    /// Throws `DeliveryStoreError` with kind `.schemaTooNew` when a newer loyali-hooks wrote the
    /// database, `.cannotCreateDirectory` when the directory cannot be made, or `SQLiteError`.
    public convenience init(directory: String, options: StoreOptions = StoreOptions()) throws {
        try self.init(directory: directory, options: options, migrations: SQLiteSchema.migrations)
    }

    /// Opens the store with a given migration list; tests use an older list to build an old file.
    init(directory: String, options: StoreOptions = StoreOptions(), migrations: [StoreMigration]) throws {
        do {
            try Self.createStateDirectory(directory)
        } catch {
            throw DeliveryStoreError(
                .cannotCreateDirectory, path: directory,
                message: "cannot create the state directory: \(error.localizedDescription)")
        }
        let path = Self.file(Self.fileName, in: directory)
        Self.secureDatabaseFiles(at: path)
        let database = try SQLiteDatabase(path: path)
        database.setBusyTimeout(milliseconds: 5_000)
        // Refuse a newer database before changing anything in it (journal mode included).
        let known = migrations.last?.version ?? 0
        let found = try SQLiteSchema.version(of: database)
        guard found <= known else {
            throw DeliveryStoreError.schemaTooNew(found: found, known: known, path: path)
        }
        // WAL: readers (the CLI's `deliveries`) never block the runner's writes. FULL: a commit
        // is fsynced before it returns, because a source is acknowledged right after. A 40 MB
        // checkpoint interval (not 4 MB) lets index pages rewritten by successive batches be
        // copied back once; measured ~1.6x faster enqueues with a large outbox. secure_delete
        // OFF: Debian's libsqlite3 is built with it on, which zero-fills every freed cell and
        // page; here nothing deletes deliveries, so what it wiped on each delivery were the old
        // index entries its status change replaces (callgrind: ~1% of a delivery's instructions).
        _ = try database.scalarString("PRAGMA journal_mode = WAL")
        try database.execute(
            """
            PRAGMA synchronous = FULL;
            PRAGMA foreign_keys = ON;
            PRAGMA cache_size = -16000;
            PRAGMA wal_autocheckpoint = 10000;
            PRAGMA journal_size_limit = 67108864;
            PRAGMA secure_delete = OFF;
            """)
        try SQLiteSchema.migrate(database, migrations: migrations)
        self.path = path
        self.nodeID = options.nodeID
        self.leaseMs = options.leaseMs
        database.writeHealth = health
        self.state = SleepingMutex(Connection(database: database))
    }

    /// A store over an already opened and migrated database (see `SQLiteDeliveryStore+Open.swift`).
    init(opened database: SQLiteDatabase, options: StoreOptions) {
        self.path = database.path
        self.nodeID = options.nodeID
        self.leaseMs = options.leaseMs
        database.writeHealth = health
        self.state = SleepingMutex(Connection(database: database))
    }

    /// Why this connection's last write transaction failed for want of disk (full, I/O error,
    /// read-only), or `nil` when it succeeded. Does not wait for the store's lock.
    public var writeFailure: String? { health.current }

    /// Test hook: caps the database at its current size (`PRAGMA max_page_count`), so the next
    /// write that needs a new page fails with `SQLITE_FULL`, as on a full disk; `nil` lifts the cap.
    func limitGrowth(_ limited: Bool) throws {
        try withDatabase { database in
            let pages = limited ? try database.scalarInt64("PRAGMA page_count") ?? 1 : 1 << 30
            _ = try database.scalarInt64("PRAGMA max_page_count = \(pages)")
        }
    }

    /// Runs `body` with the database, holding the lock.
    func withDatabase<T: Sendable>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        try state.withLock { connection in try body(connection.database) }
    }

    /// Runs `body` with the whole connection state, holding the lock.
    func withConnection<T: Sendable>(_ body: (inout Connection) throws -> T) throws -> T {
        try state.withLock { connection in try body(&connection) }
    }

    // MARK: Outbox

    /// The schema version of the open database: the build's own, since opening migrates it.
    public func schemaVersion() throws -> Int {
        try withDatabase { try SQLiteSchema.version(of: $0) }
    }

    // MARK: Outbox

    /// See ``DeliveryStore/enqueue(_:checkpoint:nowMs:claiming:)``. Only deliveries due at once
    /// may be claimed.
    public func enqueue(
        _ deliveries: [NewDelivery], checkpoint: (source: String, offset: Int64)?, nowMs: Int64, claiming: Set<Int>
    ) throws -> (inserted: Int, claimed: [ClaimedDelivery]) {
        let checkpointValue = checkpoint.map { ($0.source, $0.offset) }
        return try withConnection { connection in
            let database = connection.database
            var claimedRows: [(index: Int, sequence: Int64)] = []
            let inserted = try database.transaction {
                var inserted = 0
                var rollup = RollupChanges()
                let insert = try database.cachedStatement(Self.insertDeliverySQL)
                let insertBody = try database.cachedStatement(
                    "INSERT OR ROLLBACK INTO delivery_bodies (seq, body) VALUES (?1, ?2)")
                defer {
                    for statement in [insert, insertBody] {
                        statement.reset()
                        statement.clearBindings()
                    }
                }
                // Deliveries of one batch usually share a schedule: encode it once.
                var lastSchedule: [Int64] = []
                var lastEncoded = ""
                for (index, delivery) in deliveries.enumerated() {
                    if delivery.schedule != lastSchedule {
                        guard !delivery.schedule.isEmpty, delivery.schedule.allSatisfy({ $0 >= 0 }) else {
                            throw DeliveryStoreError(
                                .invalidDelivery(id: delivery.id), path: database.path,
                                message: "delivery \(delivery.id) needs a retry schedule of one or more delays of 0 ms or more, not \(delivery.schedule)")
                        }
                        lastSchedule = delivery.schedule
                        lastEncoded = Self.encode(schedule: delivery.schedule)
                    }
                    let firstDelay = lastSchedule[0]
                    insert.reset()
                    try DeliveryIDColumn.bind(delivery.id, to: insert, at: 1)
                    try insert.bind(delivery.pipeline, at: 2)
                    try insert.bind(delivery.sink, at: 3)
                    try insert.bind(delivery.eventID, at: 4)
                    try insert.bind(delivery.eventType, at: 5)
                    try insert.bind(lastEncoded, at: 6)
                    try insert.bind(nowMs.saturatingAdd(firstDelay), at: 7)
                    try insert.bind(delivery.createdAtMs, at: 8)
                    try insert.bind(nowMs, at: 9)
                    var claims = delivery.isDueAtOnce && claiming.contains(index)
                    // Only a key's head: the probe sees this batch's earlier rows too.
                    if claims, let key = delivery.orderKey,
                        try Self.hasUnsettled(OrderedKey(pipeline: delivery.pipeline, sink: delivery.sink, key: key), in: database)
                    {
                        claims = false
                    }
                    let status: DeliveryStatus = delivery.planningFailure != nil ? .failed : claims ? .inFlight : .pending
                    try insert.bind(status.rawValue, at: 10)
                    try insert.bind(delivery.planningFailure, at: 11)
                    if claims {
                        try insert.bind(nodeID, at: 12)
                        try insert.bind(nowMs.saturatingAdd(leaseMs), at: 13)
                    } else {
                        try insert.bindNull(at: 12)
                        try insert.bindNull(at: 13)
                    }
                    try insert.bind(delivery.orderKey, at: 14)
                    try insert.run()
                    guard database.changes == 1 else { continue }  // already stored: a replay
                    inserted += 1
                    rollup.move(
                        pipeline: delivery.pipeline, sink: delivery.sink, from: nil,
                        to: RollupChanges.RowState(status: status, attempts: 0, updatedAtMs: nowMs))
                    let sequence = database.lastInsertRowID
                    if claims { claimedRows.append((index, sequence)) }
                    insertBody.reset()
                    try insertBody.bind(sequence, at: 1)
                    try insertBody.bind(bytes: delivery.body, at: 2)
                    try insertBody.run()
                }
                if let (source, offset) = checkpointValue {
                    try database.withStatement(Self.upsertCheckpointSQL) { upsert in
                        try upsert.bind(source, at: 1)
                        try upsert.bind(offset, at: 2)
                        try upsert.bind(nowMs, at: 3)
                        try upsert.run()
                    }
                }
                try Self.write(rollup, to: database)
                return inserted
            }
            // Known rows, as for a claim: recording their attempts needs no lookup by id.
            for (index, sequence) in claimedRows {
                let delivery = deliveries[index]
                connection.claimed[delivery.id] = ClaimedRow(
                    sequence: sequence, pipeline: delivery.pipeline, sink: delivery.sink,
                    state: RollupChanges.RowState(status: .inFlight, attempts: 0, updatedAtMs: nowMs), orderKey: delivery.orderKey)
            }
            return (inserted, claimedRows.map { ClaimedDelivery(firstAttemptOf: deliveries[$0.index]) })
        }
    }

    /// The committed position of `source`, or `nil` if it has none yet. Blocking.
    public func checkpoint(source: String) throws -> Int64? {
        try withDatabase { database in
            try database.withStatement("SELECT byte_offset FROM checkpoints WHERE source = ?1") {
                try $0.bind(source, at: 1)
                return try $0.step() ? $0.int64(at: 0) : nil
            }
        }
    }

    /// Claims up to `limit` deliveries of one sink that are due at `nowMs` (pending or retrying,
    /// `next_attempt_at <= nowMs`), oldest due first, and marks them `in_flight`, leased to this
    /// node, in the same transaction, so no two claimers (threads or processes) ever get the same
    /// row. Blocking.
    ///
    /// With a `window` other than `.all`, only deliveries created inside it are claimed (see
    /// ``CreationWindow``).
    public func claimDue(
        sinkKey: (pipeline: String, sink: String), nowMs: Int64, limit: Int, window: CreationWindow
    ) throws -> [ClaimedDelivery] {
        try claim(sinkKey: sinkKey, dueByMs: nowMs, nowMs: nowMs, limit: limit, window: window)
    }

    /// See ``DeliveryStore/claimProbe(sinkKey:nowMs:window:)``: ``claimDue(sinkKey:nowMs:limit:window:)``
    /// of one delivery, whatever its due time. Blocking.
    public func claimProbe(sinkKey: (pipeline: String, sink: String), nowMs: Int64, window: CreationWindow) throws -> ClaimedDelivery? {
        try claim(sinkKey: sinkKey, dueByMs: .max, nowMs: nowMs, limit: 1, window: window).first
    }

    /// Claims up to `limit` deliveries of one sink due by `dueByMs`, oldest due first, leased
    /// from `nowMs`.
    private func claim(
        sinkKey: (pipeline: String, sink: String), dueByMs: Int64, nowMs: Int64, limit: Int, window: CreationWindow
    ) throws -> [ClaimedDelivery] {
        guard limit > 0 else { return [] }
        let pipeline = sinkKey.pipeline
        let sink = sinkKey.sink
        return try withConnection { connection in
            let database = connection.database
            // Not fsynced: if a power loss undoes a claim, the rows are simply due again, which
            // is what release(ids:) would make of them.
            let (claimed, sequences, orderKeys) = try database.transaction(durable: false) {
                var sequences: [Int64] = []
                var orderKeys: [String?] = []
                var claimed: [ClaimedDelivery] = []
                var rollup = RollupChanges()
                var scheduleCache = ScheduleCache()
                try database.withStatement(window.isAll ? Self.selectDueSQL : Self.selectDueInWindowSQL) { select in
                    try select.bind(pipeline, at: 1)
                    try select.bind(sink, at: 2)
                    try select.bind(dueByMs, at: 3)
                    try select.bind(limit, at: 4)
                    if !window.isAll {
                        try select.bind(window.fromMs ?? .min, at: 5)
                        try select.bind(window.beforeMs ?? .max, at: 6)
                    }
                    while try select.step() {
                        sequences.append(select.int64(at: 0))
                        orderKeys.append(select.optionalString(at: 10))
                        let attempts = select.int(at: 5)
                        rollup.move(
                            pipeline: pipeline, sink: sink,
                            from: Self.rowState(status: select.string(at: 8), attempts: attempts, updatedAtMs: select.int64(at: 9)),
                            to: RollupChanges.RowState(status: .inFlight, attempts: attempts, updatedAtMs: nowMs))
                        claimed.append(
                            ClaimedDelivery(
                                id: DeliveryIDColumn.read(from: select, at: 1), pipeline: pipeline, sink: sink,
                                eventID: select.string(at: 2), eventType: select.string(at: 3),
                                body: select.bytes(at: 4), attempt: select.int(at: 5) + 1,
                                schedule: scheduleCache.decode(select.string(at: 6)),
                                scheduleOffset: select.int(at: 7)))
                    }
                }
                try database.withStatement(Self.claimRowSQL) { update in
                    try update.bind(nowMs, at: 2)
                    try update.bind(nodeID, at: 3)
                    try update.bind(nowMs.saturatingAdd(leaseMs), at: 4)
                    for sequence in sequences {
                        update.reset()
                        try update.bind(sequence, at: 1)
                        try update.run()
                    }
                }
                try Self.write(rollup, to: database)
                return (claimed, sequences, orderKeys)
            }
            for (index, (delivery, sequence)) in zip(claimed, sequences).enumerated() {
                connection.claimed[delivery.id] = ClaimedRow(
                    sequence: sequence, pipeline: pipeline, sink: sink,
                    state: RollupChanges.RowState(status: .inFlight, attempts: delivery.attempt - 1, updatedAtMs: nowMs),
                    orderKey: orderKeys[index])
            }
            return claimed
        }
    }

    /// When the next delivery of one sink is due (ms since the Unix epoch), or `nil` if none is
    /// waiting. O(log n). Blocking.
    public func nextDueMs(sinkKey: (pipeline: String, sink: String), window: CreationWindow) throws -> Int64? {
        try withDatabase { database in
            try database.withStatement(
                """
                SELECT d.next_attempt_at FROM deliveries AS d
                WHERE d.pipeline = ?1 AND d.sink = ?2 AND d.status IN ('pending', 'retrying') AND \(Self.headOfKeySQL)
                \(window.isAll ? "" : "AND d.created_at >= ?3 AND d.created_at < ?4")
                ORDER BY d.next_attempt_at LIMIT 1
                """
            ) {
                try $0.bind(sinkKey.pipeline, at: 1)
                try $0.bind(sinkKey.sink, at: 2)
                if !window.isAll {
                    try $0.bind(window.fromMs ?? .min, at: 3)
                    try $0.bind(window.beforeMs ?? .max, at: 4)
                }
                return try $0.step() ? $0.optionalInt64(at: 0) : nil
            }
        }
    }

    // MARK: SQL

    // Writes say OR ROLLBACK: a failing statement ends the whole transaction at once, which is
    // what `transaction` would do anyway, and it spares SQLite a statement journal (a copy of
    // every page each statement touches, so the statement alone could be undone). That copy was
    // the largest single cost of a batch.

    static let insertDeliverySQL = """
        INSERT OR ROLLBACK INTO deliveries (
            id, pipeline, sink, event_id, event_type, schedule,
            status, attempts, schedule_offset, next_attempt_at, created_at, updated_at, last_error,
            lease_owner, lease_until, order_key)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?10, 0, 0, ?7, ?8, ?9, ?11, ?12, ?13, ?14)
        ON CONFLICT (id) DO NOTHING
        """

    private static let upsertCheckpointSQL = """
        INSERT OR ROLLBACK INTO checkpoints (source, byte_offset, updated_at) VALUES (?1, ?2, ?3)
        ON CONFLICT (source) DO UPDATE SET byte_offset = excluded.byte_offset, updated_at = excluded.updated_at
        """

    /// Marks one row claimed by this node.
    static let claimRowSQL = """
        UPDATE OR ROLLBACK deliveries
        SET status = 'in_flight', updated_at = ?2, lease_owner = ?3, lease_until = ?4 WHERE seq = ?1
        """

    /// Ordered delivery: a row with an ordering key is taken only while no earlier row of its
    /// sink and key is pending, retrying or in flight (an index probe on
    /// deliveries_unsettled_by_key; rows without a key skip it). Rows claimed in the same
    /// statement see each other as pending, so one claim takes at most one row per key. The
    /// status test repeats the index's condition word for word, ORs and not an IN list (which
    /// SQLite would build a temporary b-tree for on every probe).
    static let headOfKeySQL = """
        (d.order_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM deliveries AS e
            WHERE e.pipeline = d.pipeline AND e.sink = d.sink AND e.order_key = d.order_key AND e.seq < d.seq
                AND e.order_key IS NOT NULL AND (e.status = 'pending' OR e.status = 'retrying' OR e.status = 'in_flight')))
        """

    // The WHERE repeats the due index's `status IN (…)` word for word: SQLite only uses a
    // partial index when the query visibly implies its condition.
    static let selectDueSQL = """
        SELECT d.seq, d.id, d.event_id, d.event_type, b.body, d.attempts, d.schedule, d.schedule_offset, d.status, d.updated_at,
            d.order_key
        FROM deliveries AS d JOIN delivery_bodies AS b ON b.seq = d.seq
        WHERE d.pipeline = ?1 AND d.sink = ?2 AND d.status IN ('pending', 'retrying')
            AND d.next_attempt_at <= ?3 AND \(headOfKeySQL)
        ORDER BY d.next_attempt_at, d.seq
        LIMIT ?4
        """

    /// ``selectDueSQL`` restricted to deliveries created inside a ``CreationWindow``.
    private static let selectDueInWindowSQL = """
        SELECT d.seq, d.id, d.event_id, d.event_type, b.body, d.attempts, d.schedule, d.schedule_offset, d.status, d.updated_at,
            d.order_key
        FROM deliveries AS d JOIN delivery_bodies AS b ON b.seq = d.seq
        WHERE d.pipeline = ?1 AND d.sink = ?2 AND d.status IN ('pending', 'retrying')
            AND d.next_attempt_at <= ?3 AND d.created_at >= ?5 AND d.created_at < ?6 AND \(headOfKeySQL)
        ORDER BY d.next_attempt_at, d.seq
        LIMIT ?4
        """

    // MARK: Schedule column

    /// `[0, 60000]` → `"0,60000"`: readable in the sqlite3 shell, and small.
    static func encode(schedule: [Int64]) -> String {
        schedule.map(String.init).joined(separator: ",")
    }

    /// The inverse of `encode(schedule:)`.
    static func decode(schedule: String) -> [Int64] {
        var delays: [Int64] = []
        var current: Int64 = 0
        var digits = 0
        for byte in schedule.utf8 {
            if byte == UInt8(ascii: ",") {
                if digits > 0 { delays.append(current) }
                current = 0
                digits = 0
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                current = current.saturatingMultiply(10).saturatingAdd(Int64(byte - UInt8(ascii: "0")))
                digits += 1
            }
        }
        if digits > 0 { delays.append(current) }
        return delays
    }

    /// Rows of one claim nearly always share a schedule: decode each distinct text once.
    private struct ScheduleCache {
        var text = ""
        var schedule: [Int64] = []

        mutating func decode(_ newText: String) -> [Int64] {
            if newText != text || schedule.isEmpty {
                text = newText
                schedule = SQLiteDeliveryStore.decode(schedule: newText)
            }
            return schedule
        }
    }
}
