/// Putting `in_flight` rows back in the queue: after a crash (``recoverInFlight()``), when a lease
/// ran out (``reclaimExpiredLeases(nowMs:)``), at a clean stop (``release(ids:)`` for rows never
/// started, `record` with an `interrupted` attempt for rows cut off by the grace period); marking
/// attempts started (``markStarted(ids:)``), and keeping leases alive (``renewLeases(ids:nowMs:)``).
///
/// **Attempt numbers and the log stay truthful.** A receiver must never see `X-Loyali-Attempt: N`
/// twice for one delivery, and the log must not claim attempts that were never made. Before the
/// runner hands a delivery to its sink it marks attempt N started (`started_attempt = N`, one
/// statement per batch, up to a lane's in-flight limit ahead). A row left in flight by a crash
/// with its attempt marked may have been sent (the request can reach the receiver an instant
/// before the process dies), so recovery counts it: it logs attempt N as `interrupted`, and the
/// next attempt is N+1. A row claimed but never marked was not sent: it goes back as `release`
/// puts it, with no attempt and its count unchanged. Numbering may skip (a row marked but not yet
/// handed over when the process died), but never repeats.
extension SQLiteDeliveryStore {
    /// At startup: each delivery left `in_flight` by a crash with its attempt marked started gets
    /// an `interrupted` attempt in its log, made by the node that held it (see the type's notes: it
    /// may have been sent), and goes back to `retrying`, due as it was (at once), to be sent again
    /// with the same id and the next attempt number; one never started goes back with no attempt.
    /// Returns how many went back. Call before any runner claims, and only while holding the state
    /// directory's ``StateDirectoryLock``: another live runner's rows are not orphans. Blocking.
    @discardableResult
    public func recoverInFlight() throws -> Int {
        try withConnection { connection in
            connection.claimed.removeAll()
            return try Self.putBack(connection.database, where: "status = 'in_flight'", nowMs: nil, message: Self.crashMessage)
        }
    }

    /// Puts back every delivery whose lease ran out before `nowMs`, as ``recoverInFlight()``
    /// does. SQLite has no index on leases (one node holds the state directory, so its runner
    /// never calls this): it scans the outbox. Blocking.
    @discardableResult
    public func reclaimExpiredLeases(nowMs: Int64) throws -> Int {
        try withConnection { connection in
            let count = try Self.putBack(
                connection.database, where: "status = 'in_flight' AND lease_until < ?1", nowMs: nowMs,
                message: Self.leaseExpiredMessage)
            // The rows this connection remembers claiming may be among them: look them up again.
            if count > 0 { connection.claimed.removeAll() }
            return count
        }
    }

    /// Marks attempt `attempts + 1` started on each of `ids` this node holds in flight, in one
    /// transaction (not fsynced: a process crash keeps it, as it keeps the claim); returns the ids
    /// it no longer holds, in order. Rows this store claimed are found by their `seq`, without a
    /// lookup by id. Blocking.
    public func markStarted(ids: [String]) throws -> [String] {
        guard !ids.isEmpty else { return [] }
        return try withConnection { connection in
            let database = connection.database
            let claimed = connection.claimed
            return try database.transaction(durable: false) {
                try database.withStatement(
                    """
                    UPDATE OR ROLLBACK deliveries SET started_attempt = attempts + 1
                    WHERE seq = ?1 AND status = 'in_flight' AND (lease_owner IS NULL OR lease_owner = ?2)
                    """
                ) { update in
                    try update.bind(nodeID, at: 2)
                    var lost: [String] = []
                    for id in ids {
                        let sequence = try claimed[id]?.sequence ?? Self.sequence(of: id, in: database)
                        guard let sequence else {
                            lost.append(id)
                            continue
                        }
                        update.reset()
                        try update.bind(sequence, at: 1)
                        try update.run()
                        if database.changes == 0 { lost.append(id) }
                    }
                    return lost
                }
            }
        }
    }

    /// The `seq` of delivery `id`, or `nil` for an unknown id.
    private static func sequence(of id: String, in database: SQLiteDatabase) throws -> Int64? {
        try database.withStatement("SELECT seq FROM deliveries WHERE id = ?1") { find in
            try DeliveryIDColumn.bind(id, to: find, at: 1)
            return try find.step() ? find.int64(at: 0) : nil
        }
    }

    /// Puts back each in-flight row matching `condition` (which may use `?1`, bound to `nowMs`),
    /// in one transaction: a row whose attempt was marked started gets an `interrupted` attempt
    /// and is due again with that attempt counted; one never started goes back as ``release(ids:)``
    /// puts it. Returns how many rows.
    private static func putBack(
        _ database: SQLiteDatabase, where condition: String, nowMs: Int64?, message: String
    ) throws -> Int {
        try database.transaction {
            // The rows as they are (in flight), whether their attempt started, and whether its
            // interrupted attempt is new.
            var rollup = RollupChanges()
            try database.withStatement(
                """
                SELECT pipeline, sink, attempts, updated_at, coalesce(started_attempt > attempts, 0), schedule_offset,
                    NOT EXISTS (SELECT 1 FROM attempts WHERE delivery_seq = deliveries.seq AND attempt = deliveries.attempts + 1)
                FROM deliveries WHERE \(condition)
                """
            ) { statement in
                if let nowMs { try statement.bind(nowMs, at: 1) }
                while try statement.step() {
                    let (pipeline, sink, attempts, updatedAt) = (
                        statement.string(at: 0), statement.string(at: 1), statement.int(at: 2), statement.int64(at: 3))
                    let before = RollupChanges.RowState(status: .inFlight, attempts: attempts, updatedAtMs: updatedAt)
                    guard statement.int(at: 4) != 0 else {
                        let status: DeliveryStatus = attempts > statement.int(at: 5) ? .retrying : .pending
                        rollup.move(
                            pipeline: pipeline, sink: sink, from: before,
                            to: RollupChanges.RowState(status: status, attempts: attempts, updatedAtMs: updatedAt))
                        continue
                    }
                    rollup.move(
                        pipeline: pipeline, sink: sink, from: before,
                        to: RollupChanges.RowState(status: .retrying, attempts: attempts + 1, updatedAtMs: updatedAt))
                    if statement.int(at: 6) != 0 {
                        rollup.attempt(pipeline: pipeline, sink: sink, startedAtMs: updatedAt, outcome: "retry", durationMs: 0)
                    }
                }
            }
            try database.withStatement(
                """
                INSERT OR ROLLBACK INTO attempts (
                    delivery_seq, attempt, pipeline, sink, started_at, duration_ms, http_status,
                    error_class, error_message, response_snippet, outcome, next_attempt_at, node)
                SELECT seq, attempts + 1, pipeline, sink, updated_at, 0, NULL,
                    '\(AttemptRecord.interruptedErrorClass)', '\(message)', NULL, 'retry',
                    coalesce(next_attempt_at, updated_at), lease_owner
                FROM deliveries WHERE \(condition) AND started_attempt > attempts
                ON CONFLICT (delivery_seq, attempt) DO NOTHING
                """
            ) { statement in
                if let nowMs { try statement.bind(nowMs, at: 1) }
                try statement.run()
            }
            try write(rollup, to: database)
            // SET expressions all read the row as it was, so `started` is judged before the
            // attempt count moves.
            let started = "coalesce(started_attempt > attempts, 0)"
            return try database.withStatement(
                """
                UPDATE OR ROLLBACK deliveries
                SET status = CASE WHEN \(started) OR attempts > schedule_offset THEN 'retrying' ELSE 'pending' END,
                    attempts = attempts + \(started),
                    next_attempt_at = coalesce(next_attempt_at, updated_at),
                    last_error = CASE WHEN \(started)
                        THEN '\(AttemptRecord.interruptedErrorClass): \(message)' ELSE last_error END,
                    last_http_status = CASE WHEN \(started) THEN NULL ELSE last_http_status END,
                    started_attempt = NULL
                WHERE \(condition)
                """
            ) { statement in
                if let nowMs { try statement.bind(nowMs, at: 1) }
                try statement.run()
                return database.changes
            }
        }
    }

    /// Extends this node's leases on `ids` to `nowMs + leaseMs`; returns the ids it no longer
    /// holds, in order. Blocking.
    public func renewLeases(ids: [String], nowMs: Int64) throws -> [String] {
        guard !ids.isEmpty else { return [] }
        return try withDatabase { database in
            try database.transaction(durable: false) {
                try database.withStatement(
                    """
                    UPDATE OR ROLLBACK deliveries SET lease_until = ?2
                    WHERE id = ?1 AND status = 'in_flight' AND lease_owner = ?3
                    """
                ) { statement in
                    try statement.bind(nowMs.saturatingAdd(leaseMs), at: 2)
                    try statement.bind(nodeID, at: 3)
                    var lost: [String] = []
                    for id in ids {
                        statement.reset()
                        try DeliveryIDColumn.bind(id, to: statement, at: 1)
                        try statement.run()
                        if database.changes == 0 { lost.append(id) }
                    }
                    return lost
                }
            }
        }
    }

    /// Puts deliveries this store claimed but never started back in the queue, due as they were
    /// and with no attempt logged: `retrying` if they have an attempt since the last resend, else
    /// `pending`. Rows no longer in flight under this node are left alone. Returns how many went
    /// back. A clean stop calls it for deliveries handed to a lane or claimed ahead. Blocking.
    @discardableResult
    public func release(ids: [String]) throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try withConnection { connection in
            let database = connection.database
            let released = try database.transaction {
                // RETURNING gives the row after the change; before it, it was in flight with the
                // same attempts and updated_at.
                var rollup = RollupChanges()
                let released = try database.withStatement(
                    """
                    UPDATE OR ROLLBACK deliveries
                    SET status = CASE WHEN attempts > schedule_offset THEN 'retrying' ELSE 'pending' END, started_attempt = NULL
                    WHERE id = ?1 AND status = 'in_flight' AND (lease_owner IS NULL OR lease_owner = ?2)
                    RETURNING pipeline, sink, status, attempts, updated_at
                    """
                ) { statement in
                    try statement.bind(nodeID, at: 2)
                    var released = 0
                    for id in ids {
                        statement.reset()
                        try DeliveryIDColumn.bind(id, to: statement, at: 1)
                        while try statement.step() {
                            released += 1
                            let (attempts, updatedAt) = (statement.int(at: 3), statement.int64(at: 4))
                            rollup.move(
                                pipeline: statement.string(at: 0), sink: statement.string(at: 1),
                                from: RollupChanges.RowState(status: .inFlight, attempts: attempts, updatedAtMs: updatedAt),
                                to: Self.rowState(status: statement.string(at: 2), attempts: attempts, updatedAtMs: updatedAt))
                        }
                    }
                    return released
                }
                try Self.write(rollup, to: database)
                return released
            }
            for id in ids { connection.claimed[id] = nil }
            return released
        }
    }

    /// What a recovered attempt says about itself (a fixed text: it is spliced into SQL).
    static let crashMessage = "the process ended during this attempt; it may have reached the receiver"
    /// What an attempt whose lease ran out says about itself (a fixed text: it is spliced into SQL).
    static let leaseExpiredMessage = "the lease of the node making this attempt ran out; it may have reached the receiver"
}
