import Foundation

/// Recording attempts: the hot write of every delivery. Each batch logs its attempts and applies
/// their outcomes to the rows this store claimed, in one transaction, with the aggregates' changes
/// and, for ordered delivery, the next heads of the keys that settled.
extension SQLiteDeliveryStore {
    /// Logs a batch of finished attempts and applies each outcome to its delivery (status,
    /// attempt count, next attempt, last error, updated time), in ONE transaction; see
    /// ``DeliveryStore/record(_:)``. Blocking.
    public func record(_ attempts: [AttemptRecord]) throws {
        _ = try record(attempts, advancingKeys: nil)
    }

    /// ``record(_:)``, then ordered delivery's next heads claimed in the same transaction; see
    /// ``DeliveryStore/record(_:advancingKeysAtMs:)``. Blocking.
    public func record(_ attempts: [AttemptRecord], advancingKeysAtMs nowMs: Int64) throws -> KeyAdvance {
        try record(attempts, advancingKeys: nowMs)
    }

    private func record(_ attempts: [AttemptRecord], advancingKeys nowMs: Int64?) throws -> KeyAdvance {
        guard !attempts.isEmpty else { return KeyAdvance() }
        return try withConnection { connection in
            let database = connection.database
            // Each row as this batch leaves it (one delivery may have two attempts in a batch),
            // over the claimed rows. Apart, not a copy of `claimed`: that holds every delivery
            // claimed or handed off and not yet recorded, thousands, and copying it on the first
            // write of each batch cost more than the batch's own SQL when batches were small.
            var touched: [String: ClaimedRow] = [:]
            touched.reserveCapacity(attempts.count)
            // Not fsynced: an outcome lost to a power loss leaves its delivery in flight, to be
            // recovered and sent again with the same id (at least once, never lost). A process
            // crash loses nothing, and the next durable commit (an enqueue) syncs these too.
            let (advance, advanced) = try database.transaction(durable: false) {
                let find = try database.cachedStatement(
                    "SELECT seq, pipeline, sink, status, attempts, updated_at, order_key FROM deliveries WHERE id = ?1")
                let update = try database.cachedStatement(Self.updateAfterAttemptSQL)
                let insert = try database.cachedStatement(Self.insertAttemptSQL)
                defer {
                    for statement in [find, update, insert] {
                        statement.reset()
                        statement.clearBindings()
                    }
                }
                var rollup = RollupChanges()
                // Ordered keys whose delivery these attempts settle.
                var settled: [OrderedKey] = []
                for record in attempts {
                    var row = touched[record.deliveryID] ?? connection.claimed[record.deliveryID]
                    if row == nil {
                        // Claimed by another process, or before a restart: look it up.
                        find.reset()
                        try DeliveryIDColumn.bind(record.deliveryID, to: find, at: 1)
                        if try find.step() {
                            row = ClaimedRow(
                                sequence: find.int64(at: 0), pipeline: find.string(at: 1), sink: find.string(at: 2),
                                state: Self.rowState(status: find.string(at: 3), attempts: find.int(at: 4), updatedAtMs: find.int64(at: 5)),
                                orderKey: find.optionalString(at: 6))
                        }
                        find.reset()
                    }
                    guard let row else {
                        throw DeliveryStoreError(
                            .unknownDelivery(id: record.deliveryID), path: database.path,
                            message: "cannot record attempt \(record.attempt) of unknown delivery \(record.deliveryID)")
                    }
                    update.reset()
                    try update.bind(row.sequence, at: 1)
                    try update.bind(record.outcome.resultingStatus.rawValue, at: 2)
                    try update.bind(record.attempt, at: 3)
                    try update.bind(record.outcome.nextAttemptMs, at: 4)
                    try update.bind(record.summarizedError, at: 5)
                    try update.bind(record.httpStatus, at: 6)
                    try update.bind(record.startedAtMs.saturatingAdd(record.durationMs), at: 7)
                    try update.bind(nodeID, at: 8)
                    try update.run()
                    if database.changes == 1 {
                        // The row as the UPDATE left it.
                        let new = RollupChanges.RowState(
                            status: record.outcome.resultingStatus, attempts: max(row.state.attempts, record.attempt),
                            updatedAtMs: record.startedAtMs.saturatingAdd(record.durationMs))
                        rollup.move(pipeline: row.pipeline, sink: row.sink, from: row.state, to: new)
                        touched[record.deliveryID] = ClaimedRow(
                            sequence: row.sequence, pipeline: row.pipeline, sink: row.sink, state: new, orderKey: row.orderKey)
                        if let key = row.orderKey, record.outcome.settles {
                            settled.append(OrderedKey(pipeline: row.pipeline, sink: row.sink, key: key))
                        }
                    }
                    rollup.attempt(
                        pipeline: row.pipeline, sink: row.sink, startedAtMs: record.startedAtMs,
                        outcome: record.outcome.storedName, durationMs: record.durationMs)
                    insert.reset()
                    try Self.bindAttempt(record, row: row, nodeID: nodeID, to: insert)
                    try insert.run()
                    if database.changes == 0 {
                        // The same attempt number again (a runner retrying its own write, or a
                        // node whose lease ran out): the row is overwritten, so the aggregates
                        // take out what they counted for it. Rare, so only this path reads.
                        try Self.overwriteAttempt(record, row: row, nodeID: nodeID, rollup: &rollup, in: database)
                    }
                }
                var advanced: [(id: String, row: ClaimedRow)] = []
                var advance = KeyAdvance()
                if let nowMs, !settled.isEmpty {
                    advance = try advanceKeys(settled, nowMs: nowMs, in: database, rollup: &rollup, claimed: &advanced)
                }
                try Self.write(rollup, to: database)
                return (advance, advanced)
            }
            for record in attempts { connection.claimed[record.deliveryID] = nil }
            for (id, row) in advanced { connection.claimed[id] = row }
            return advance
        }
    }

    // MARK: SQL (OR ROLLBACK, as in the main file: a failing statement ends the transaction)

    // A delivery in flight under another node's lease is that node's now (this node's lease ran
    // out and it was reclaimed): the attempt is logged, but its state is left alone.
    static let updateAfterAttemptSQL = """
        UPDATE OR ROLLBACK deliveries
        SET status = ?2, attempts = max(attempts, ?3), next_attempt_at = ?4,
            last_error = ?5, last_http_status = ?6, updated_at = ?7
        WHERE seq = ?1 AND NOT (status = 'in_flight' AND lease_owner IS NOT NULL AND lease_owner <> ?8)
        """

    // Pipeline and sink are copied into the attempt so stats per sink need no join. Re-recording
    // the same attempt number inserts nothing here; `overwriteAttempt` replaces the row.
    private static let insertAttemptSQL = """
        INSERT OR ROLLBACK INTO attempts (
            delivery_seq, attempt, pipeline, sink, started_at, duration_ms, http_status,
            error_class, error_message, response_snippet, outcome, next_attempt_at, node)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
        ON CONFLICT (delivery_seq, attempt) DO NOTHING
        """

    /// Replaces attempt `record.attempt` of `row`, already logged, with `record`, and moves the
    /// aggregates from the old row's minute, outcome and duration to the new one's (the
    /// `attempt` of `rollup` for the new one is already counted by the caller).
    private static func overwriteAttempt(
        _ record: AttemptRecord, row: ClaimedRow, nodeID: String, rollup: inout RollupChanges, in database: SQLiteDatabase
    ) throws {
        let old = try database.withStatement(
            "SELECT started_at, outcome, duration_ms FROM attempts WHERE delivery_seq = ?1 AND attempt = ?2"
        ) { statement -> (Int64, String, Int64)? in
            try statement.bind(row.sequence, at: 1)
            try statement.bind(record.attempt, at: 2)
            return try statement.step() ? (statement.int64(at: 0), statement.string(at: 1), statement.int64(at: 2)) : nil
        }
        guard let (startedAtMs, outcome, durationMs) = old else { return }
        rollup.attempt(pipeline: row.pipeline, sink: row.sink, startedAtMs: startedAtMs, outcome: outcome, durationMs: durationMs, sign: -1)
        try database.withStatement(
            """
            UPDATE OR ROLLBACK attempts SET
                started_at = ?5, duration_ms = ?6, http_status = ?7, error_class = ?8, error_message = ?9,
                response_snippet = ?10, outcome = ?11, next_attempt_at = ?12, node = ?13
            WHERE delivery_seq = ?1 AND attempt = ?2
            """
        ) { statement in
            try bindAttempt(record, row: row, nodeID: nodeID, to: statement)
            try statement.run()
        }
    }

    /// Binds `record` of `row` to the parameters of ``insertAttemptSQL``, which the overwrite
    /// shares (it leaves ?3 and ?4, the pipeline and sink a row never changes, unused), so both
    /// statements write an attempt the same way.
    private static func bindAttempt(_ record: AttemptRecord, row: ClaimedRow, nodeID: String, to statement: SQLiteStatement) throws {
        try statement.bind(row.sequence, at: 1)
        try statement.bind(record.attempt, at: 2)
        try statement.bind(row.pipeline, at: 3)
        try statement.bind(row.sink, at: 4)
        try statement.bind(record.startedAtMs, at: 5)
        try statement.bind(record.durationMs, at: 6)
        try statement.bind(record.httpStatus, at: 7)
        try statement.bind(record.errorClass, at: 8)
        try statement.bind(record.errorMessage, at: 9)
        try statement.bind(record.responseSnippet, at: 10)
        try statement.bind(record.outcome.storedName, at: 11)
        try statement.bind(record.outcome.nextAttemptMs, at: 12)
        try statement.bind(record.node ?? nodeID, at: 13)
    }
}
