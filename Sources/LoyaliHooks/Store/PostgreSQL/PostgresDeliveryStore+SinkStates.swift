/// Sink health states (see ``SinkState``) in the `sink_states` table, shared by every node. A
/// write locks the sink's row (or, for the first write, relies on the primary key) so concurrent
/// transitions from several nodes are compare-and-set: one wins, the others read its state.
extension PostgresDeliveryStore {
    static let sinkStateColumns = """
        pipeline, sink, status, frozen_since, changed_at, next_probe_at, probe_interval, consecutive_failures,
        failing_since, reason, announced, version, last_change
        """

    /// Every stored sink state, sorted by pipeline then sink. Blocking.
    public func sinkStates() throws -> [SinkState] {
        try work.run { connection in
            let result = try connection.query(
                "SELECT \(Self.sinkStateColumns) FROM sink_states ORDER BY pipeline COLLATE \"C\", sink COLLATE \"C\"")
            return try (0..<result.rowCount).map { try Self.sinkState(result, row: $0) }
        }
    }

    /// See ``DeliveryStore/writeSinkState(_:expectedVersion:nowMs:)``. Blocking.
    public func writeSinkState(_ state: SinkState, expectedVersion: Int64, nowMs: Int64) throws -> (written: Bool, current: SinkState) {
        try write(work) { connection in
            try connection.transaction {
                let found = try connection.query(
                    "SELECT \(Self.sinkStateColumns) FROM sink_states WHERE pipeline = $1 AND sink = $2 FOR UPDATE",
                    [.text(state.pipeline), .text(state.sink)])
                let current = found.rowCount > 0
                    ? try Self.sinkState(found, row: 0) : SinkState(pipeline: state.pipeline, sink: state.sink)
                guard current.version == expectedVersion else { return (false, current) }
                var written = state
                written.version = expectedVersion + 1
                let optional = { (value: Int64?) -> PostgresValue in value.map(PostgresValue.int64) ?? .null }
                let stored = try connection.query(
                    """
                    INSERT INTO sink_states (\(Self.sinkStateColumns))
                    VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::int, $9::bigint, $10, $11::boolean, $12::bigint, $14)
                    ON CONFLICT (pipeline, sink) DO UPDATE SET
                        status = excluded.status, frozen_since = excluded.frozen_since, changed_at = excluded.changed_at,
                        next_probe_at = excluded.next_probe_at, probe_interval = excluded.probe_interval,
                        consecutive_failures = excluded.consecutive_failures, failing_since = excluded.failing_since,
                        reason = excluded.reason, announced = excluded.announced, version = excluded.version,
                        last_change = excluded.last_change
                    WHERE sink_states.version = $13::bigint
                    """,
                    [
                        .text(written.pipeline), .text(written.sink), .text(written.status.rawValue), optional(written.frozenSinceMs),
                        optional(written.changedAtMs), optional(written.nextProbeMs), optional(written.probeIntervalMs),
                        .int64(Int64(written.consecutiveFailures)), optional(written.failingSinceMs), .text(written.reason),
                        .text(written.announced ? "true" : "false"), .int64(written.version), .int64(expectedVersion),
                        written.lastChange.map { .text($0.rawValue) } ?? .null,
                    ])
                // A first write another node made between the read and the insert: it won.
                guard stored.affectedRows == 1 else {
                    let now = try connection.query(
                        "SELECT \(Self.sinkStateColumns) FROM sink_states WHERE pipeline = $1 AND sink = $2",
                        [.text(state.pipeline), .text(state.sink)])
                    return (false, now.rowCount > 0 ? try Self.sinkState(now, row: 0) : current)
                }
                if current.status != .healthy, written.status == .healthy, let frozen = current.frozenSinceMs {
                    try connection.query(
                        """
                        UPDATE deliveries SET next_attempt_at = next_attempt_at + $4::bigint
                        WHERE pipeline = $1 AND sink = $2 AND status IN ('pending', 'retrying')
                            AND next_attempt_at > $3::bigint AND created_at <= $3::bigint
                        """, [.text(state.pipeline), .text(state.sink), .int64(frozen), .int64(max(0, nowMs - frozen))])
                }
                // Other nodes read the new state now rather than at their next refresh.
                try connection.query("SELECT pg_notify($1, '')", [.text(Self.notifyChannel)])
                return (true, written)
            }
        }
    }

    private static func sinkState(_ result: PostgresResult, row: Int) throws -> SinkState {
        SinkState(
            pipeline: try result.string(row, 0), sink: try result.string(row, 1),
            status: SinkState.Status(rawValue: try result.string(row, 2)) ?? .healthy,
            frozenSinceMs: try result.optionalInt64(row, 3), changedAtMs: try result.optionalInt64(row, 4),
            nextProbeMs: try result.optionalInt64(row, 5), probeIntervalMs: try result.optionalInt64(row, 6),
            consecutiveFailures: Int(try result.int64(row, 7)), failingSinceMs: try result.optionalInt64(row, 8),
            reason: try result.string(row, 9), announced: try result.bool(row, 10), version: try result.int64(row, 11),
            lastChange: try result.optionalString(row, 12).flatMap(SinkStateChange.Kind.init(rawValue:)))
    }
}
