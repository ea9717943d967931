/// Putting `in_flight` rows back in the queue: after a crash (``recoverInFlight()``) and at a clean
/// stop (``release(ids:)`` for rows never started, `record` with an `interrupted` attempt for rows
/// cut off by the grace period).
///
/// **Attempt numbers stay truthful.** A receiver must never see `X-Loyali-Attempt: N` twice for one
/// delivery. A row left in flight by a crash may have been sent (the request can reach the
/// receiver an instant before the process dies), and nothing records the start of an attempt
/// (that would cost a write per attempt). So recovery counts it: it logs attempt N as
/// `interrupted`, and the next attempt is N+1. A row that was claimed but never started is counted
/// too, since after a crash the two cannot be told apart: numbering may skip, but never repeats.
/// A clean stop knows which attempts started, and counts only those.
extension DeliveryStore {
    /// The `error_class` of an attempt cut off by a stop or a crash.
    public static let interruptedErrorClass = "interrupted"

    /// At startup: each delivery left `in_flight` by a crash gets an `interrupted` attempt in its
    /// log (see the type's notes: it may have been sent), and goes back to `retrying`, due as it
    /// was (at once), to be sent again with the same id and the next attempt number. Returns how
    /// many were recovered. Call before any runner claims, and only while holding the state
    /// directory's ``StateDirectoryLock``: another live runner's rows are not orphans. Blocking.
    @discardableResult
    public func recoverInFlight() throws -> Int {
        try withConnection { connection in
            connection.claimed.removeAll()
            let database = connection.database
            return try database.transaction {
                try database.execute(
                    """
                    INSERT OR ROLLBACK INTO attempts (
                        delivery_seq, attempt, pipeline, sink, started_at, duration_ms, http_status,
                        error_class, error_message, response_snippet, outcome, next_attempt_at)
                    SELECT seq, attempts + 1, pipeline, sink, updated_at, 0, NULL,
                        '\(Self.interruptedErrorClass)', '\(Self.crashMessage)', NULL, 'retry',
                        coalesce(next_attempt_at, updated_at)
                    FROM deliveries WHERE status = 'in_flight'
                    ON CONFLICT (delivery_seq, attempt) DO NOTHING
                    """)
                return try database.withStatement(
                    """
                    UPDATE OR ROLLBACK deliveries
                    SET status = 'retrying', attempts = attempts + 1,
                        next_attempt_at = coalesce(next_attempt_at, updated_at),
                        last_error = '\(Self.interruptedErrorClass): \(Self.crashMessage)', last_http_status = NULL
                    WHERE status = 'in_flight'
                    """
                ) { statement in
                    try statement.run()
                    return database.changes
                }
            }
        }
    }

    /// Puts deliveries this store claimed but never started back in the queue, due as they were
    /// and with no attempt logged: `retrying` if they have an attempt since the last resend, else
    /// `pending`. Rows no longer in flight are left alone. Returns how many went back. A clean
    /// stop calls it for deliveries handed to a lane or claimed ahead. Blocking.
    @discardableResult
    public func release(ids: [String]) throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try withConnection { connection in
            let database = connection.database
            let released = try database.transaction {
                try database.withStatement(
                    """
                    UPDATE OR ROLLBACK deliveries
                    SET status = CASE WHEN attempts > schedule_offset THEN 'retrying' ELSE 'pending' END
                    WHERE id = ?1 AND status = 'in_flight'
                    """
                ) { statement in
                    var released = 0
                    for id in ids {
                        statement.reset()
                        try DeliveryIDColumn.bind(id, to: statement, at: 1)
                        try statement.run()
                        released += database.changes
                    }
                    return released
                }
            }
            for id in ids { connection.claimed[id] = nil }
            return released
        }
    }

    /// What a recovered attempt says about itself.
    static let crashMessage = "the process ended during this attempt; it may have reached the receiver"
}
