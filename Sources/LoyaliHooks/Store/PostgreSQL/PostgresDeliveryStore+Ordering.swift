/// Ordered delivery's fast path on PostgreSQL: a key's head is claimed in the transaction that
/// stores it, and the next of a key by the statement after the record that settles the head.
///
/// **Across nodes.** Rows are numbered (`seq`) when inserted but become visible when committed,
/// so two nodes storing rows of one key at once could make a later row visible first, and a
/// claim would take it ahead of the earlier one. Every transaction that stores ordered rows of a
/// sink therefore holds that sink's advisory lock from before its insert to its commit: per sink,
/// ordered rows commit in `seq` order, and a snapshot holds a prefix of every key.
extension PostgresDeliveryStore {
    /// The advisory lock a transaction storing ordered rows of `sink` holds until it ends.
    static func orderLockKey(_ sink: KeyAdvance.SinkName) -> Int64 {
        advisoryLockKey("order \(sink.pipeline)\u{0}\(sink.sink)")
    }

    /// Takes the ordered-ingest locks of `sinks`, in key order so two nodes never deadlock.
    static func lockOrderedSinks(_ sinks: Set<KeyAdvance.SinkName>, _ connection: PostgresConnection) throws {
        for key in sinks.map(orderLockKey).sorted() {
            try connection.query("SELECT pg_advisory_xact_lock($1::bigint)", [.int64(key)])
        }
    }

    /// Of the ordered rows at `candidates` (offered for claiming), those that are not their key's
    /// head: a new row of the batch before them has their key, or the store holds a delivery of
    /// it pending, retrying or in flight. A row already stored (a replay) is not new: the store's
    /// state of it counts, not the batch's.
    static func keyedRowsNotHeads(_ candidates: [Int], of deliveries: [NewDelivery], _ connection: PostgresConnection) throws -> [Int] {
        guard !candidates.isEmpty else { return [] }
        let keyed = deliveries.indices.filter { deliveries[$0].orderKey != nil && deliveries[$0].planningFailure == nil }
        let storedResult = try connection.query(
            "SELECT id FROM deliveries WHERE id = ANY($1::text[])", [.textArray(keyed.map { deliveries[$0].id })])
        let stored = Set(try (0..<storedResult.rowCount).map { try storedResult.string($0, 0) })
        let offered = Set(candidates)
        var seen = Set<OrderedKey>()
        var notHeads: [Int] = []
        var probed: [Int] = []
        for index in keyed where !stored.contains(deliveries[index].id) {
            let delivery = deliveries[index]
            let first = seen.insert(OrderedKey(pipeline: delivery.pipeline, sink: delivery.sink, key: delivery.orderKey!)).inserted
            guard offered.contains(index) else { continue }
            if first { probed.append(index) } else { notHeads.append(index) }
        }
        guard !probed.isEmpty else { return notHeads }
        let result = try connection.query(
            """
            SELECT u.position FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(pipeline, sink, order_key, position)
            WHERE EXISTS (
                SELECT 1 FROM deliveries AS e
                WHERE e.pipeline = u.pipeline AND e.sink = u.sink AND e.order_key = u.order_key
                    AND e.order_key IS NOT NULL AND e.status IN ('pending', 'retrying', 'in_flight'))
            """,
            [
                .textArray(probed.map { deliveries[$0].pipeline }), .textArray(probed.map { deliveries[$0].sink }),
                .textArray(probed.map { deliveries[$0].orderKey }),
            ])
        return notHeads + (try (0..<result.rowCount).map { probed[Int(try result.int64($0, 0)) - 1] })
    }

    /// After ``recordSQL`` committed: the head of each key whose delivery among
    /// `ids` is settled now, claimed for `nodeID` when it is pending or retrying and due at
    /// `nowMs` (rows another claim holds locked are skipped, and named as waiting).
    static func advanceKeys(
        settledBy ids: [String?], nowMs: Int64, nodeID: String, leaseUntilMs: Int64, _ connection: PostgresConnection
    ) throws -> KeyAdvance {
        let result = try connection.query(advanceSQL, [.textArray(ids), .int64(nowMs), .text(nodeID), .int64(leaseUntilMs)])
        var advance = KeyAdvance()
        var waiting = Set<KeyAdvance.SinkName>()
        var lastScheduleText = ""
        var lastSchedule: [Int64] = []
        for row in 0..<result.rowCount {
            let pipeline = try result.string(row, 0), sink = try result.string(row, 1)
            guard let id = try result.optionalString(row, 2) else {
                waiting.insert(KeyAdvance.SinkName(pipeline: pipeline, sink: sink))
                continue
            }
            let scheduleText = try result.string(row, 7)
            if scheduleText != lastScheduleText || lastSchedule.isEmpty {
                lastScheduleText = scheduleText
                lastSchedule = SQLiteDeliveryStore.decode(schedule: scheduleText)
            }
            let delivery = ClaimedDelivery(
                id: id, pipeline: pipeline, sink: sink, eventID: try result.string(row, 3), eventType: try result.string(row, 4),
                body: try result.bytes(row, 5), attempt: Int(try result.int64(row, 6)) + 1, schedule: lastSchedule,
                scheduleOffset: Int(try result.int64(row, 8)))
            advance.claimed.append(KeyAdvance.Next(delivery: delivery, createdAtMs: try result.int64(row, 9)))
        }
        advance.waiting = Array(waiting)
        return advance
    }

    /// The heads of the settled keys (probes of deliveries_unsettled_by_key), those due claimed;
    /// one row per head that is not in flight, its delivery's columns NULL when left queued.
    static let advanceSQL = """
        WITH settled AS (
            SELECT DISTINCT d.pipeline, d.sink, d.order_key FROM deliveries AS d
            WHERE d.id = ANY($1::text[]) AND d.order_key IS NOT NULL AND d.status IN ('succeeded', 'failed')
        ),
        heads AS (
            SELECT h.seq, h.status, s.pipeline, s.sink FROM settled AS s
            CROSS JOIN LATERAL (
                SELECT e.seq, e.status FROM deliveries AS e
                WHERE e.pipeline = s.pipeline AND e.sink = s.sink AND e.order_key = s.order_key
                    AND e.order_key IS NOT NULL AND e.status IN ('pending', 'retrying', 'in_flight')
                ORDER BY e.seq LIMIT 1) AS h
        ),
        due AS (
            SELECT d.seq FROM deliveries AS d JOIN heads ON heads.seq = d.seq
            WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $2::bigint
            FOR UPDATE OF d SKIP LOCKED
        ),
        claimed AS (
            UPDATE deliveries AS d
            SET status = 'in_flight', updated_at = $2::bigint, lease_owner = $3, lease_until = $4::bigint
            FROM due WHERE d.seq = due.seq
            RETURNING d.seq, d.id, d.event_id, d.event_type, d.body, d.attempts, d.schedule, d.schedule_offset, d.created_at
        )
        SELECT h.pipeline, h.sink, c.id, c.event_id, c.event_type, c.body, c.attempts, c.schedule, c.schedule_offset, c.created_at
        FROM heads AS h LEFT JOIN claimed AS c ON c.seq = h.seq
        WHERE h.status <> 'in_flight'
        """
}
