import Foundation

/// The state store on a PostgreSQL database that several `serve` (or `run`) nodes share: the
/// outbox, the attempt log with the node that made each attempt, the source checkpoints, and the
/// leases that say which node is sending what. The database is the coordinator; nodes never talk
/// to each other.
///
/// - **Claims** take due rows with `FOR UPDATE SKIP LOCKED`, so concurrent claimers never wait for
///   each other nor get the same row, and lease them to ``nodeID`` until `now + leaseMs`.
/// - **Leases** are renewed by their holder while attempts are in flight; once one runs out (its
///   node died) any node's ``reclaimExpiredLeases(nowMs:)`` puts the delivery back in the queue.
/// - **Ingest** inserts a whole batch in one statement (`INSERT … SELECT FROM unnest(…) ON
///   CONFLICT (id) DO NOTHING`) and commits it with its checkpoint; `enqueue` returns only after
///   the commit, so a 202 or a checkpoint is never given for rows the database lacks.
/// - **Wake-ups**: a commit that makes work due sends `NOTIFY` on ``notifyChannel``;
///   ``PostgresNotifier`` listens for it.
///
/// Connections: one for ingest and one for everything else, each behind its own lock, so a
/// batch's commit never holds up claims and attempt records. A lost connection is dropped and
/// made again on the next call, with a backoff between failed tries (see ``PostgresSession``);
/// meanwhile every write throws a ``PostgresError`` that says the store is unavailable, and
/// ``writeFailure`` says why, so `serve` answers 503 and `/readyz` fails.
///
/// Threading: `Sendable`; every method blocks on the network, so **call it off Swift's cooperative
/// pool**, as the runner's store and ingest threads do.
public final class PostgresDeliveryStore: DeliveryStore {
    /// The channel new and resent work is announced on.
    static let notifyChannel = "loyali_hooks_work"

    /// Where the database is.
    let target: PostgresTarget
    /// The node this store acts for.
    public let nodeID: String
    /// How long a claim's lease runs, in ms.
    public let leaseMs: Int64
    /// The ingest connection.
    let ingest: PostgresSession
    /// The connection for claims, attempts, leases and reads.
    let work: PostgresSession
    /// Whether writes go through.
    let health = WriteHealth()

    /// Opens the store at `url`, creating or migrating its schema. `environment` is searched for
    /// `PGPASSWORD` only so its value is redacted from messages (libpq reads it itself). Throws a
    /// ``PostgresError`` (the URL's password redacted) when the database cannot be reached or
    /// refuses, or ``DeliveryStoreError`` `.schemaTooNew`.
    public convenience init(url: String, options: StoreOptions, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try self.init(target: PostgresTarget(url: url, environment: environment), options: options, migrations: PostgresSchema.migrations)
    }

    /// Opens a store that must already exist (the read commands, `resend`): throws
    /// ``DeliveryStoreError`` `.noState` when the database has no loyali-hooks schema yet, and
    /// creates nothing. With `readOnly` (the read commands) the connections refuse writes and a
    /// schema older than this build's is refused with `.schemaTooOld` rather than migrated;
    /// without it (`resend`) an older schema is migrated, as a node would.
    public convenience init(
        existingURL url: String, readOnly: Bool, options: StoreOptions, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        try self.init(
            target: PostgresTarget(url: url, environment: environment), options: options, migrations: PostgresSchema.migrations,
            mode: readOnly ? .readOnly : .existing)
    }

    /// How opening treats the database's schema.
    enum OpenMode: Sendable {
        /// A runner's store: create the schema, or bring it up to date.
        case create
        /// `resend`: the schema must exist; an older one is brought up to date.
        case existing
        /// The read commands: the schema must exist at this build's version, nothing is migrated,
        /// and every transaction is read only.
        case readOnly
    }

    /// Opens the store with a given migration list (tests use another to build an older or newer
    /// database).
    init(
        target: PostgresTarget, options: StoreOptions, migrations: [StoreMigration] = PostgresSchema.migrations,
        mode: OpenMode = .create
    ) throws {
        self.target = target
        self.nodeID = options.nodeID
        self.leaseMs = options.leaseMs
        let readOnly = mode == .readOnly
        self.ingest = PostgresSession(target: target, applicationName: "loyali-hooks \(options.nodeID) ingest", readOnly: readOnly)
        self.work = PostgresSession(target: target, applicationName: "loyali-hooks \(options.nodeID)", readOnly: readOnly)
        let nowMs = Self.nowMs()
        try work.run { connection in
            let known = migrations.last?.version ?? 0
            if mode != .create {
                let found = try PostgresSchema.version(of: connection)
                guard found > 0 else {
                    throw DeliveryStoreError(
                        .noState, path: target.redacted, message: "no loyali-hooks store in this database yet (nothing has been delivered through it)")
                }
                guard found <= known else { throw DeliveryStoreError.schemaTooNew(found: found, known: known, path: target.redacted) }
                if found < known, mode == .readOnly {
                    throw DeliveryStoreError.schemaTooOld(found: found, needed: known, path: target.redacted)
                }
            }
            if mode != .readOnly { try PostgresSchema.migrate(connection, migrations: migrations, nowMs: nowMs) }
        }
    }

    /// The current time in ms since the Unix epoch.
    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    /// The URL with any password replaced.
    public var location: String { target.redacted }

    /// PostgreSQL.
    public var engine: StoreEngine { .postgresql }

    /// Several nodes claim from one database: runners renew their leases and reclaim expired ones.
    public var isShared: Bool { true }

    /// Why the last write failed because the database could not be reached or could not take
    /// it, or `nil` once one succeeds. Does not wait for any lock.
    public var writeFailure: String? { health.current }

    /// Runs a write on `session`, telling ``health`` how it went.
    func write<T: Sendable>(_ session: PostgresSession, _ body: (PostgresConnection) throws -> T) throws -> T {
        do {
            let value = try session.run(body)
            health.note(nil)
            return value
        } catch {
            health.note(error)
            throw error
        }
    }

    // MARK: Ingest

    /// Puts `deliveries` in the outbox and moves `checkpoint` forward in ONE transaction; see
    /// ``DeliveryStore/enqueue(_:checkpoint:nowMs:claiming:)``. The rows go in one statement, one
    /// array parameter per column. Blocking.
    public func enqueue(
        _ deliveries: [NewDelivery], checkpoint: (source: String, offset: Int64)?, nowMs: Int64, claiming: Set<Int>
    ) throws -> (inserted: Int, claimed: [ClaimedDelivery]) {
        var columns = EnqueueColumns(capacity: deliveries.count)
        var lastSchedule: [Int64] = []
        var lastEncoded = ""
        // Sinks with ordered rows in this batch.
        var orderedSinks = Set<KeyAdvance.SinkName>()
        for (index, delivery) in deliveries.enumerated() {
            if delivery.schedule != lastSchedule {
                guard !delivery.schedule.isEmpty, delivery.schedule.allSatisfy({ $0 >= 0 }) else {
                    throw DeliveryStoreError(
                        .invalidDelivery(id: delivery.id), path: location,
                        message: "delivery \(delivery.id) needs a retry schedule of one or more delays of 0 ms or more, not \(delivery.schedule)")
                }
                lastSchedule = delivery.schedule
                lastEncoded = SQLiteDeliveryStore.encode(schedule: delivery.schedule)
            }
            let claims = delivery.isDueAtOnce && claiming.contains(index) && delivery.planningFailure == nil
            if delivery.orderKey != nil { orderedSinks.insert(KeyAdvance.SinkName(pipeline: delivery.pipeline, sink: delivery.sink)) }
            columns.append(
                delivery, schedule: lastEncoded, dueMs: nowMs.saturatingAdd(lastSchedule[0]),
                status: delivery.planningFailure != nil ? "failed" : claims ? "in_flight" : "pending",
                leaseUntil: claims ? nowMs.saturatingAdd(leaseMs) : nil)
        }
        let checkpointValue = checkpoint.map { ($0.source, $0.offset) }
        let nodeID = nodeID
        let baseColumns = columns
        let insertedIDs: Set<String> = try write(ingest) { connection in
            try connection.transaction {
                var inserted = Set<String>()
                // Per attempt of the transaction: a key's head may have changed meanwhile.
                columns = baseColumns
                if !orderedSinks.isEmpty {
                    try Self.lockOrderedSinks(orderedSinks, connection)
                    let candidates = deliveries.indices.filter { columns.statuses[$0] == "in_flight" && deliveries[$0].orderKey != nil }
                    for index in try Self.keyedRowsNotHeads(candidates, of: deliveries, connection) {
                        columns.statuses[index] = "pending"
                        columns.leases[index] = nil
                    }
                }
                if !deliveries.isEmpty {
                    let result = try connection.query(Self.insertSQL, columns.parameters(nowMs: nowMs, nodeID: nodeID))
                    var waiting = false
                    for row in 0..<result.rowCount {
                        inserted.insert(try result.string(row, 0))
                        waiting = try waiting || result.bool(row, 1)
                    }
                    // Sent at commit, to every listening node: work is waiting.
                    if waiting { try connection.query("SELECT pg_notify($1, '')", [.text(Self.notifyChannel)]) }
                }
                if let (source, offset) = checkpointValue {
                    // Only the holder of the source's lock moves its checkpoint; a node that
                    // holds it not (yet, or since a reconnection) takes it if it is free.
                    guard try Self.takeSourceLock(Self.sourceLockKey(source), connection) else {
                        throw Self.sourceLockLost(source, location: connection.target.redacted)
                    }
                    try connection.query(
                        """
                        INSERT INTO checkpoints (source, byte_offset, updated_at) VALUES ($1, $2::bigint, $3::bigint)
                        ON CONFLICT (source) DO UPDATE SET byte_offset = excluded.byte_offset, updated_at = excluded.updated_at
                        """, [.text(source), .int64(offset), .int64(nowMs)])
                }
                return inserted
            }
        }
        var claimed: [ClaimedDelivery] = []
        for index in claiming.sorted() where index < deliveries.count && columns.statuses[index] == "in_flight" {
            if insertedIDs.contains(deliveries[index].id) { claimed.append(ClaimedDelivery(firstAttemptOf: deliveries[index])) }
        }
        return (insertedIDs.count, claimed)
    }

    /// The batch, column by column, as ``insertSQL`` takes it.
    private struct EnqueueColumns {
        var ids: [String?] = [], pipelines: [String?] = [], sinks: [String?] = [], eventIDs: [String?] = []
        var eventTypes: [String?] = [], schedules: [String?] = [], statuses: [String?] = []
        var due: [Int64?] = [], created: [Int64?] = [], errors: [String?] = [], leases: [Int64?] = []
        var bodies: [[UInt8]?] = [], orderKeys: [String?] = []

        init(capacity: Int) {
            bodies.reserveCapacity(capacity)
        }

        mutating func append(_ delivery: NewDelivery, schedule: String, dueMs: Int64, status: String, leaseUntil: Int64?) {
            ids.append(delivery.id)
            pipelines.append(delivery.pipeline)
            sinks.append(delivery.sink)
            eventIDs.append(delivery.eventID)
            eventTypes.append(delivery.eventType)
            schedules.append(schedule)
            statuses.append(status)
            due.append(dueMs)
            created.append(delivery.createdAtMs)
            errors.append(delivery.planningFailure)
            leases.append(leaseUntil)
            bodies.append(delivery.body)
            orderKeys.append(delivery.orderKey)
        }

        func parameters(nowMs: Int64, nodeID: String) -> [PostgresValue] {
            [
                .textArray(ids), .textArray(pipelines), .textArray(sinks), .textArray(eventIDs), .textArray(eventTypes),
                .textArray(schedules), .textArray(statuses), .int64Array(due), .int64Array(created), .textArray(errors),
                .int64Array(leases), .bytesArray(bodies), .int64(nowMs), .text(nodeID), .textArray(orderKeys),
            ]
        }
    }

    /// One statement per batch. RETURNING names the rows that were new (a replayed id is not),
    /// and whether any of them waits in the queue, which is worth a NOTIFY.
    static let insertSQL = """
        INSERT INTO deliveries (
            id, pipeline, sink, event_id, event_type, schedule, status, attempts, schedule_offset,
            next_attempt_at, created_at, updated_at, last_error, lease_owner, lease_until, body, order_key)
        SELECT u.id, u.pipeline, u.sink, u.event_id, u.event_type, u.schedule, u.status, 0, 0,
            u.due, u.created, $13::bigint, u.error,
            CASE WHEN u.lease_until IS NULL THEN NULL ELSE $14::text END, u.lease_until, u.body, u.order_key
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                    $8::bigint[], $9::bigint[], $10::text[], $11::bigint[], $12::bytea[], $15::text[])
            AS u(id, pipeline, sink, event_id, event_type, schedule, status, due, created, error, lease_until, body, order_key)
        ON CONFLICT (id) DO NOTHING
        RETURNING id, status = 'pending'
        """

    /// The committed position of `source`, or `nil` if it has none yet. Blocking.
    public func checkpoint(source: String) throws -> Int64? {
        try work.run { connection in
            let result = try connection.query("SELECT byte_offset FROM checkpoints WHERE source = $1", [.text(source)])
            return result.rowCount == 0 ? nil : try result.int64(0, 0)
        }
    }

    // MARK: Claims

    /// Claims up to `limit` due deliveries of one sink with `FOR UPDATE SKIP LOCKED` and leases
    /// them to this node; see ``DeliveryStore/claimDue(sinkKey:nowMs:limit:window:)``. One
    /// statement, so one round trip. Blocking.
    public func claimDue(
        sinkKey: (pipeline: String, sink: String), nowMs: Int64, limit: Int, window: CreationWindow
    ) throws -> [ClaimedDelivery] {
        guard limit > 0 else { return [] }
        let parameters = claimParameters(sinkKey: sinkKey, nowMs: nowMs, limit: limit, window: window)
        return try claim(
            sinkKey: sinkKey, sql: window.isAll ? Self.claimSQL : Self.claimInWindowSQL,
            parameters: window.isAll ? Array(parameters.prefix(6)) : parameters)
    }

    /// See ``DeliveryStore/claimProbe(sinkKey:nowMs:window:)``: ``claimDue(sinkKey:nowMs:limit:window:)``
    /// of one delivery, whatever its due time. Blocking.
    public func claimProbe(sinkKey: (pipeline: String, sink: String), nowMs: Int64, window: CreationWindow) throws -> ClaimedDelivery? {
        try claim(
            sinkKey: sinkKey, sql: Self.claimProbeSQL, parameters: claimParameters(sinkKey: sinkKey, nowMs: nowMs, limit: 1, window: window)
        ).first
    }

    /// The parameters of the claim statements, $1 to $8.
    private func claimParameters(
        sinkKey: (pipeline: String, sink: String), nowMs: Int64, limit: Int, window: CreationWindow
    ) -> [PostgresValue] {
        [
            .text(sinkKey.pipeline), .text(sinkKey.sink), .int64(nowMs), .int(limit), .text(nodeID), .int64(nowMs.saturatingAdd(leaseMs)),
            .int64(window.fromMs ?? .min), .int64(window.beforeMs ?? .max),
        ]
    }

    /// Runs one of the claim statements and reads what it claimed, oldest due first.
    private func claim(sinkKey: (pipeline: String, sink: String), sql: String, parameters: [PostgresValue]) throws -> [ClaimedDelivery] {
        let (pipeline, sink) = sinkKey
        let rows = try write(work) { connection -> [ClaimedRow] in
            let result = try connection.query(sql, parameters)
            var rows: [ClaimedRow] = []
            rows.reserveCapacity(result.rowCount)
            var lastScheduleText = ""
            var lastSchedule: [Int64] = []
            for row in 0..<result.rowCount {
                let scheduleText = try result.string(row, 6)
                if scheduleText != lastScheduleText || lastSchedule.isEmpty {
                    lastScheduleText = scheduleText
                    lastSchedule = SQLiteDeliveryStore.decode(schedule: scheduleText)
                }
                rows.append(
                    ClaimedRow(
                        order: (try result.int64(row, 8), try result.int64(row, 0)),
                        delivery: ClaimedDelivery(
                            id: try result.string(row, 1), pipeline: pipeline, sink: sink,
                            eventID: try result.string(row, 2), eventType: try result.string(row, 3),
                            body: try result.bytes(row, 4), attempt: Int(try result.int64(row, 5)) + 1,
                            schedule: lastSchedule, scheduleOffset: Int(try result.int64(row, 7)))))
            }
            return rows
        }
        // RETURNING keeps no order: oldest due first, as the claim chose them.
        return rows.sorted { $0.order < $1.order }.map { $0.delivery }
    }

    private struct ClaimedRow: Sendable {
        var order: (Int64, Int64)
        var delivery: ClaimedDelivery
    }

    /// Ordered delivery: a row with an ordering key is taken only while no earlier row of its sink
    /// and key is pending, retrying or in flight. Across nodes this holds without locks: a claim
    /// that skips a row another node is claiming still sees that row pending in its snapshot, so
    /// it takes none of the row's followers either, and a row resolved by another node frees its
    /// follower only once that commit is visible.
    static let headOfKeySQL = """
        (d.order_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM deliveries AS e
            WHERE e.pipeline = d.pipeline AND e.sink = d.sink AND e.order_key = d.order_key AND e.seq < d.seq
                AND e.order_key IS NOT NULL AND e.status IN ('pending', 'retrying', 'in_flight')))
        """
    private static let claimSelect = """
        SELECT d.seq FROM deliveries AS d
        WHERE d.pipeline = $1 AND d.sink = $2 AND d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $3::bigint
            AND \(headOfKeySQL)
        """
    private static let claimUpdate = """
        UPDATE deliveries AS d
        SET status = 'in_flight', updated_at = $3::bigint, lease_owner = $5, lease_until = $6::bigint
        FROM due WHERE d.seq = due.seq
        RETURNING d.seq, d.id, d.event_id, d.event_type, d.body, d.attempts, d.schedule, d.schedule_offset, d.next_attempt_at
        """
    static let claimSQL = """
        WITH due AS (\(claimSelect)
            ORDER BY d.next_attempt_at, d.seq LIMIT $4::bigint FOR UPDATE OF d SKIP LOCKED)
        \(claimUpdate)
        """
    /// A paused sink's probe: its waiting delivery due first, due or not (see
    /// ``DeliveryStore/claimProbe(sinkKey:nowMs:window:)``).
    static let claimProbeSQL = """
        WITH due AS (
            SELECT d.seq FROM deliveries AS d
            WHERE d.pipeline = $1 AND d.sink = $2 AND d.status IN ('pending', 'retrying') AND \(headOfKeySQL)
                AND d.created_at >= $7::bigint AND d.created_at < $8::bigint
            ORDER BY d.next_attempt_at, d.seq LIMIT $4::bigint FOR UPDATE OF d SKIP LOCKED)
        \(claimUpdate)
        """
    static let claimInWindowSQL = """
        WITH due AS (\(claimSelect) AND d.created_at >= $7::bigint AND d.created_at < $8::bigint
            ORDER BY d.next_attempt_at, d.seq LIMIT $4::bigint FOR UPDATE OF d SKIP LOCKED)
        \(claimUpdate)
        """

    /// When the next delivery of one sink inside `window` is due, or `nil`. Blocking.
    public func nextDueMs(sinkKey: (pipeline: String, sink: String), window: CreationWindow) throws -> Int64? {
        try work.run { connection in
            let result = try connection.query(
                """
                SELECT d.next_attempt_at FROM deliveries AS d
                WHERE d.pipeline = $1 AND d.sink = $2 AND d.status IN ('pending', 'retrying')
                    AND d.created_at >= $3::bigint AND d.created_at < $4::bigint AND \(Self.headOfKeySQL)
                ORDER BY d.next_attempt_at LIMIT 1
                """, [.text(sinkKey.pipeline), .text(sinkKey.sink), .int64(window.fromMs ?? .min), .int64(window.beforeMs ?? .max)])
            return result.rowCount == 0 ? nil : try result.optionalInt64(0, 0)
        }
    }

    // MARK: Attempts

    /// Logs a batch of finished attempts (each with the node that made it) and applies each
    /// outcome to its delivery, in ONE statement (so one round trip, atomic without a
    /// transaction around it); see ``DeliveryStore/record(_:)``. A delivery now in flight under
    /// another node's lease is left to that node; the attempt is still logged. Blocking.
    public func record(_ attempts: [AttemptRecord]) throws {
        _ = try record(attempts, advancingKeys: nil)
    }

    /// ``record(_:)``, then ordered delivery's next heads claimed by the statement after it; see
    /// ``DeliveryStore/record(_:advancingKeysAtMs:)``. Blocking.
    public func record(_ attempts: [AttemptRecord], advancingKeysAtMs nowMs: Int64) throws -> KeyAdvance {
        try record(attempts, advancingKeys: nowMs)
    }

    private func record(_ attempts: [AttemptRecord], advancingKeys nowMs: Int64?) throws -> KeyAdvance {
        guard !attempts.isEmpty else { return KeyAdvance() }
        let nodeID = nodeID
        let leaseMs = leaseMs
        var ids: [String?] = [], numbers: [Int64?] = [], started: [Int64?] = [], durations: [Int64?] = []
        var statuses: [Int64?] = [], classes: [String?] = [], messages: [String?] = [], snippets: [String?] = []
        var outcomes: [String?] = [], next: [Int64?] = [], nodes: [String?] = [], summaries: [String?] = []
        var resulting: [String?] = []
        ids.reserveCapacity(attempts.count)
        for record in attempts {
            ids.append(record.deliveryID)
            numbers.append(Int64(record.attempt))
            started.append(record.startedAtMs)
            durations.append(record.durationMs)
            statuses.append(record.httpStatus.map(Int64.init))
            classes.append(record.errorClass)
            messages.append(record.errorMessage)
            snippets.append(record.responseSnippet)
            outcomes.append(record.outcome.storedName)
            next.append(record.outcome.nextAttemptMs)
            nodes.append(record.node ?? nodeID)
            summaries.append(record.summarizedError)
            resulting.append(record.outcome.resultingStatus.rawValue)
        }
        let distinct = Set(attempts.map(\.deliveryID))
        let parameters: [PostgresValue] = [
            .textArray(ids), .int64Array(numbers), .int64Array(started), .int64Array(durations), .int64Array(statuses),
            .textArray(classes), .textArray(messages), .textArray(snippets), .textArray(outcomes), .int64Array(next),
            .textArray(nodes), .textArray(summaries), .textArray(resulting), .text(nodeID), .int(distinct.count),
        ]
        let location = location
        return try write(work) { connection in
            let complete = try connection.query(Self.recordSQL, parameters).bool(0, 0)
            guard complete else {
                // Nothing was written: name the first id the outbox lacks.
                let known = try connection.query("SELECT id FROM deliveries WHERE id = ANY($1::text[])", [.textArray(Array(distinct))])
                var found = Set<String>()
                for row in 0..<known.rowCount { found.insert(try known.string(row, 0)) }
                let missing = attempts.first { !found.contains($0.deliveryID) } ?? attempts[0]
                throw DeliveryStoreError(
                    .unknownDelivery(id: missing.deliveryID), path: location,
                    message: "cannot record attempt \(missing.attempt) of unknown delivery \(missing.deliveryID)")
            }
            guard let nowMs else { return KeyAdvance() }
            // A statement of its own, after the record committed: a settled head's next delivery
            // is its key's head from that commit on, for any node's claim, so taking it here
            // needs no transaction around both (the claim is conditional, like any claim).
            return try Self.advanceKeys(
                settledBy: ids, nowMs: nowMs, nodeID: nodeID, leaseUntilMs: nowMs.saturatingAdd(leaseMs), connection)
        }
    }

    /// Inserts the attempts (re-recording an attempt number overwrites it) and updates their
    /// deliveries, the last record per delivery winning, unless another node holds one now; or,
    /// when an id ($15 distinct ones) is not in the outbox, writes nothing. Answers whether it
    /// wrote. `input` locks the deliveries in one order (by seq), so two nodes recording never
    /// deadlock, and the update finds each by seq.
    static let recordSQL = """
        WITH input AS (
            SELECT u.*, d.seq, d.pipeline, d.sink
            FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[],
                        $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::text[], $13::text[])
                WITH ORDINALITY AS u(id, attempt, started_at, duration_ms, http_status, error_class,
                                     error_message, response_snippet, outcome, next_attempt_at, node,
                                     summary, status, position)
            JOIN deliveries AS d ON d.id = u.id
            ORDER BY d.seq
            FOR UPDATE OF d
        ),
        complete AS (
            SELECT count(DISTINCT seq) = $15::bigint AS ok FROM input
        ),
        logged AS (
            INSERT INTO attempts (
                delivery_seq, attempt, pipeline, sink, started_at, duration_ms, http_status,
                error_class, error_message, response_snippet, outcome, next_attempt_at, node)
            SELECT DISTINCT ON (seq, attempt) seq, attempt, pipeline, sink, started_at, duration_ms, http_status,
                error_class, error_message, response_snippet, outcome, next_attempt_at, node
            FROM input WHERE (SELECT ok FROM complete)
            ORDER BY seq, attempt, position DESC
            ON CONFLICT (delivery_seq, attempt) DO UPDATE SET
                started_at = excluded.started_at, duration_ms = excluded.duration_ms,
                http_status = excluded.http_status, error_class = excluded.error_class,
                error_message = excluded.error_message, response_snippet = excluded.response_snippet,
                outcome = excluded.outcome, next_attempt_at = excluded.next_attempt_at, node = excluded.node
        ),
        latest AS (
            SELECT DISTINCT ON (seq) * FROM input WHERE (SELECT ok FROM complete) ORDER BY seq, position DESC
        ),
        updated AS (
            UPDATE deliveries AS d
            SET status = latest.status, attempts = greatest(d.attempts, latest.attempt),
                next_attempt_at = latest.next_attempt_at, last_error = latest.summary,
                last_http_status = latest.http_status, updated_at = latest.started_at + latest.duration_ms,
                lease_owner = NULL, lease_until = NULL
            FROM latest
            WHERE d.seq = latest.seq
                AND NOT (d.status = 'in_flight' AND d.lease_owner IS NOT NULL AND d.lease_owner <> $14)
        )
        SELECT ok FROM complete
        """
}
