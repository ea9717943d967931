/// Leases across nodes: renewing this node's, taking back expired ones, releasing unstarted
/// claims, and recovering this node's own after a restart with the same node id.
///
/// Attempt numbers and the log stay truthful, as with SQLite: a delivery whose lease ran out with
/// its attempt marked started (``markStarted(ids:)``) may have been sent, so putting it back logs
/// that attempt as `interrupted` (made by the node that held it) and the next attempt gets the next
/// number; one claimed but never started goes back with no attempt and its count unchanged.
extension PostgresDeliveryStore {
    /// Extends this node's leases on `ids` to `nowMs + leaseMs`; returns the ids it no longer
    /// holds, in the order given. One statement. Blocking.
    public func renewLeases(ids: [String], nowMs: Int64) throws -> [String] {
        guard !ids.isEmpty else { return [] }
        let held = try write(work) { connection -> Set<String> in
            let result = try connection.query(
                """
                UPDATE deliveries SET lease_until = $2::bigint
                WHERE id = ANY($1::text[]) AND status = 'in_flight' AND lease_owner = $3
                RETURNING id
                """, [.textArray(ids), .int64(nowMs.saturatingAdd(leaseMs)), .text(nodeID)])
            var held = Set<String>()
            for row in 0..<result.rowCount { held.insert(try result.string(row, 0)) }
            return held
        }
        return ids.filter { !held.contains($0) }
    }

    /// Marks attempt `attempts + 1` started on each of `ids` this node holds in flight; returns the
    /// ids it no longer holds, in the order given. One statement, which changes no indexed column
    /// (the lease is left alone), so PostgreSQL can update each row in place of its page (HOT); the
    /// ids are joined one by one through the id index (an `= ANY` list was planned as a bitmap AND
    /// with the index of every in-flight row). Blocking.
    public func markStarted(ids: [String]) throws -> [String] {
        guard !ids.isEmpty else { return [] }
        let held = try write(work) { connection -> Set<String> in
            let result = try connection.query(
                """
                UPDATE deliveries AS d SET started_attempt = d.attempts + 1
                FROM unnest($1::text[]) AS u(id)
                WHERE d.id = u.id AND d.status = 'in_flight' AND d.lease_owner = $2
                RETURNING d.id
                """, [.textArray(ids), .text(nodeID)])
            var held = Set<String>()
            for row in 0..<result.rowCount { held.insert(try result.string(row, 0)) }
            return held
        }
        return held.count == ids.count ? [] : ids.filter { !held.contains($0) }
    }

    /// Puts back every delivery whose lease ran out before `nowMs` (its node died or lost the
    /// database for longer than a lease), with an `interrupted` attempt by the node that held it,
    /// and announces the work. Rows another node is reclaiming at the same moment are skipped
    /// (`SKIP LOCKED`). Returns how many. Blocking.
    @discardableResult
    public func reclaimExpiredLeases(nowMs: Int64) throws -> Int {
        try write(work) { connection in
            try connection.transaction {
                let count = try Self.putBack(
                    connection, condition: "status = 'in_flight' AND lease_until < $1::bigint",
                    parameters: [.int64(nowMs)], message: SQLiteDeliveryStore.leaseExpiredMessage)
                if count > 0 { try connection.query("SELECT pg_notify($1, '')", [.text(Self.notifyChannel)]) }
                return count
            }
        }
    }

    /// At startup: the deliveries a previous life of THIS node (same node id) left in flight go
    /// back, as after a crash. Other nodes' rows are theirs until their leases run out. Blocking.
    @discardableResult
    public func recoverInFlight() throws -> Int {
        try write(work) { connection in
            try connection.transaction {
                try Self.putBack(
                    connection, condition: "status = 'in_flight' AND lease_owner = $1", parameters: [.text(nodeID)],
                    message: SQLiteDeliveryStore.crashMessage)
            }
        }
    }

    /// Puts deliveries this node claimed but never started back in the queue, with no attempt
    /// logged. Blocking.
    @discardableResult
    public func release(ids: [String]) throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try write(work) { connection in
            let result = try connection.query(
                """
                UPDATE deliveries
                SET status = CASE WHEN attempts > schedule_offset THEN 'retrying' ELSE 'pending' END,
                    lease_owner = NULL, lease_until = NULL, started_attempt = NULL
                WHERE id = ANY($1::text[]) AND status = 'in_flight' AND (lease_owner IS NULL OR lease_owner = $2)
                """, [.textArray(ids), .text(nodeID)])
            return result.affectedRows
        }
    }

    /// Puts back each in-flight row matching `condition`: one whose attempt was marked started gets
    /// an `interrupted` attempt and is due again with that attempt counted; one never started goes
    /// back as ``release(ids:)`` puts it, with no attempt. Runs inside the caller's transaction.
    /// The rows are locked first, skipping any another node holds locked right now.
    private static func putBack(
        _ connection: PostgresConnection, condition: String, parameters: [PostgresValue], message: String
    ) throws -> Int {
        // `message` is one of this file's fixed texts, never user input, so it may be spliced.
        // `gone.started` is read from the row before the UPDATE changes it.
        let result = try connection.query(
            """
            WITH gone AS (
                SELECT seq, coalesce(started_attempt > attempts, false) AS started
                FROM deliveries WHERE \(condition) ORDER BY seq FOR UPDATE SKIP LOCKED
            ),
            logged AS (
                INSERT INTO attempts (
                    delivery_seq, attempt, pipeline, sink, started_at, duration_ms, http_status,
                    error_class, error_message, response_snippet, outcome, next_attempt_at, node)
                SELECT d.seq, d.attempts + 1, d.pipeline, d.sink, d.updated_at, 0, NULL,
                    '\(AttemptRecord.interruptedErrorClass)', '\(message)', NULL, 'retry',
                    coalesce(d.next_attempt_at, d.updated_at), d.lease_owner
                FROM deliveries AS d JOIN gone USING (seq)
                WHERE gone.started
                ON CONFLICT (delivery_seq, attempt) DO NOTHING
            )
            UPDATE deliveries AS d
            SET status = CASE WHEN gone.started OR d.attempts > d.schedule_offset THEN 'retrying' ELSE 'pending' END,
                attempts = d.attempts + CASE WHEN gone.started THEN 1 ELSE 0 END,
                next_attempt_at = coalesce(d.next_attempt_at, d.updated_at),
                last_error = CASE WHEN gone.started THEN '\(AttemptRecord.interruptedErrorClass): \(message)' ELSE d.last_error END,
                last_http_status = CASE WHEN gone.started THEN NULL ELSE d.last_http_status END,
                lease_owner = NULL, lease_until = NULL, started_attempt = NULL
            FROM gone WHERE d.seq = gone.seq
            """, parameters)
        return result.affectedRows
    }
}
