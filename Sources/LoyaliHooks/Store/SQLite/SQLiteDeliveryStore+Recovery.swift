/// Putting `in_flight` rows back in the queue: after a crash (``recoverInFlight()``), when a lease
/// ran out (``reclaimExpiredLeases(nowMs:)``), at a clean stop (``release(ids:)`` for rows never
/// started, `record` with an `interrupted` attempt for rows cut off by the grace period), and
/// keeping leases alive (``renewLeases(ids:nowMs:)``).
///
/// **Attempt numbers stay truthful.** A receiver must never see `X-Loyali-Attempt: N` twice for one
/// delivery. A row left in flight by a crash may have been sent (the request can reach the
/// receiver an instant before the process dies), and nothing records the start of an attempt
/// (that would cost a write per attempt). So recovery counts it: it logs attempt N as
/// `interrupted`, and the next attempt is N+1. A row that was claimed but never started is counted
/// too, since after a crash the two cannot be told apart: numbering may skip, but never repeats.
/// A clean stop knows which attempts started, and counts only those.
extension SQLiteDeliveryStore {
    /// At startup: each delivery left `in_flight` by a crash gets an `interrupted` attempt in its
    /// log, made by the node that held it (see the type's notes: it may have been sent), and goes
    /// back to `retrying`, due as it was (at once), to be sent again with the same id and the next
    /// attempt number. Returns how many were recovered. Call before any runner claims, and only
    /// while holding the state directory's ``StateDirectoryLock``: another live runner's rows are
    /// not orphans. Blocking.
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

    /// Logs an `interrupted` attempt for each row matching `condition` (which may use `?1`,
    /// bound to `nowMs`) and makes the row due again with that attempt counted, in one
    /// transaction. Returns how many rows.
    private static func putBack(
        _ database: SQLiteDatabase, where condition: String, nowMs: Int64?, message: String
    ) throws -> Int {
        try database.transaction {
            // The rows as they are (in flight), and whether their interrupted attempt is new.
            var rollup = RollupChanges()
            try database.withStatement(
                """
                SELECT pipeline, sink, attempts, updated_at,
                    NOT EXISTS (SELECT 1 FROM attempts WHERE delivery_seq = deliveries.seq AND attempt = deliveries.attempts + 1)
                FROM deliveries WHERE \(condition)
                """
            ) { statement in
                if let nowMs { try statement.bind(nowMs, at: 1) }
                while try statement.step() {
                    let (pipeline, sink, attempts, updatedAt) = (
                        statement.string(at: 0), statement.string(at: 1), statement.int(at: 2), statement.int64(at: 3))
                    rollup.move(
                        pipeline: pipeline, sink: sink,
                        from: RollupChanges.RowState(status: .inFlight, attempts: attempts, updatedAtMs: updatedAt),
                        to: RollupChanges.RowState(status: .retrying, attempts: attempts + 1, updatedAtMs: updatedAt))
                    if statement.int(at: 4) != 0 {
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
                FROM deliveries WHERE \(condition)
                ON CONFLICT (delivery_seq, attempt) DO NOTHING
                """
            ) { statement in
                if let nowMs { try statement.bind(nowMs, at: 1) }
                try statement.run()
            }
            try write(rollup, to: database)
            return try database.withStatement(
                """
                UPDATE OR ROLLBACK deliveries
                SET status = 'retrying', attempts = attempts + 1,
                    next_attempt_at = coalesce(next_attempt_at, updated_at),
                    last_error = '\(AttemptRecord.interruptedErrorClass): \(message)', last_http_status = NULL
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
                    SET status = CASE WHEN attempts > schedule_offset THEN 'retrying' ELSE 'pending' END
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
