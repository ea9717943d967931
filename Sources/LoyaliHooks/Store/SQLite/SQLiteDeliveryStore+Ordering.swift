/// Ordered delivery's fast path in SQLite: a key's head is claimed when it is stored, and the
/// next of a key when the head settles, both inside the transaction that decides it, so the
/// claim that scans the queue for heads is needed only after retries and restarts.
extension SQLiteDeliveryStore {
    /// Whether a delivery of `key` is pending, retrying or in flight (one probe of
    /// deliveries_unsettled_by_key).
    static func hasUnsettled(_ key: OrderedKey, in database: SQLiteDatabase) throws -> Bool {
        let probe = try database.cachedStatement(unsettledProbeSQL)
        defer {
            probe.reset()
            probe.clearBindings()
        }
        try probe.bind(key.pipeline, at: 1)
        try probe.bind(key.sink, at: 2)
        try probe.bind(key.key, at: 3)
        return try probe.step()
    }

    /// The head of each of `keys` now (their earliest unsettled delivery), claimed for this node
    /// when it is pending or retrying and due at `nowMs`; inside the caller's transaction. The
    /// claimed rows are added to `claimed` for the connection's map of known rows.
    func advanceKeys(
        _ keys: [OrderedKey], nowMs: Int64, in database: SQLiteDatabase, rollup: inout RollupChanges,
        claimed: inout [(id: String, row: ClaimedRow)]
    ) throws -> KeyAdvance {
        var advance = KeyAdvance()
        var waiting = Set<KeyAdvance.SinkName>()
        let head = try database.cachedStatement(Self.keyHeadSQL)
        let update = try database.cachedStatement(Self.claimRowSQL)
        defer {
            for statement in [head, update] {
                statement.reset()
                statement.clearBindings()
            }
        }
        for key in Set(keys) {
            head.reset()
            try head.bind(key.pipeline, at: 1)
            try head.bind(key.sink, at: 2)
            try head.bind(key.key, at: 3)
            guard try head.step() else { continue }
            let status = head.string(at: 8)
            // In flight already: its own outcome moves the key on.
            guard status != DeliveryStatus.inFlight.rawValue else { continue }
            guard head.int64(at: 10) <= nowMs else {
                waiting.insert(KeyAdvance.SinkName(pipeline: key.pipeline, sink: key.sink))
                continue
            }
            let sequence = head.int64(at: 0)
            let attempts = head.int(at: 5)
            let delivery = ClaimedDelivery(
                id: DeliveryIDColumn.read(from: head, at: 1), pipeline: key.pipeline, sink: key.sink,
                eventID: head.string(at: 2), eventType: head.string(at: 3), body: head.bytes(at: 4), attempt: attempts + 1,
                schedule: Self.decode(schedule: head.string(at: 6)), scheduleOffset: head.int(at: 7))
            let before = Self.rowState(status: status, attempts: attempts, updatedAtMs: head.int64(at: 9))
            let createdAtMs = head.int64(at: 11)
            head.reset()
            update.reset()
            try update.bind(sequence, at: 1)
            try update.bind(nowMs, at: 2)
            try update.bind(nodeID, at: 3)
            try update.bind(nowMs.saturatingAdd(leaseMs), at: 4)
            try update.run()
            let after = RollupChanges.RowState(status: .inFlight, attempts: attempts, updatedAtMs: nowMs)
            rollup.move(pipeline: key.pipeline, sink: key.sink, from: before, to: after)
            claimed.append((delivery.id, ClaimedRow(sequence: sequence, pipeline: key.pipeline, sink: key.sink, state: after, orderKey: key.key)))
            advance.claimed.append(KeyAdvance.Next(delivery: delivery, createdAtMs: createdAtMs))
        }
        advance.waiting = Array(waiting)
        return advance
    }

    // The status tests repeat deliveries_unsettled_by_key's condition word for word, so SQLite
    // reads that index; ORs, not an IN list, which SQLite would build a temporary b-tree for
    // on every run.

    /// Whether a key has an unsettled delivery: ?1 pipeline, ?2 sink, ?3 key.
    static let unsettledProbeSQL = """
        SELECT 1 FROM deliveries
        WHERE pipeline = ?1 AND sink = ?2 AND order_key = ?3
            AND order_key IS NOT NULL AND (status = 'pending' OR status = 'retrying' OR status = 'in_flight')
        LIMIT 1
        """

    /// A key's head (its earliest unsettled delivery) with its body: ?1 pipeline, ?2 sink, ?3 key.
    static let keyHeadSQL = """
        SELECT d.seq, d.id, d.event_id, d.event_type, b.body, d.attempts, d.schedule, d.schedule_offset, d.status,
            d.updated_at, d.next_attempt_at, d.created_at
        FROM deliveries AS d JOIN delivery_bodies AS b ON b.seq = d.seq
        WHERE d.pipeline = ?1 AND d.sink = ?2 AND d.order_key = ?3
            AND d.order_key IS NOT NULL AND (d.status = 'pending' OR d.status = 'retrying' OR d.status = 'in_flight')
        ORDER BY d.seq LIMIT 1
        """
}
