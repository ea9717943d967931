/// Sink health states (see ``SinkState``) in the `sink_states` table.
extension SQLiteDeliveryStore {
    static let sinkStateColumns = """
        pipeline, sink, status, frozen_since, changed_at, next_probe_at, probe_interval, consecutive_failures,
        failing_since, reason, announced, version, last_change
        """

    /// Every stored sink state, sorted by pipeline then sink. Blocking.
    public func sinkStates() throws -> [SinkState] {
        try withDatabase { database in
            try database.withStatement("SELECT \(Self.sinkStateColumns) FROM sink_states ORDER BY pipeline, sink") { statement in
                var states: [SinkState] = []
                while try statement.step() { states.append(Self.sinkState(statement)) }
                return states
            }
        }
    }

    /// See ``DeliveryStore/writeSinkState(_:expectedVersion:nowMs:)``. Blocking.
    public func writeSinkState(_ state: SinkState, expectedVersion: Int64, nowMs: Int64) throws -> (written: Bool, current: SinkState) {
        try withDatabase { database in
            try database.transaction {
                let stored = try database.withStatement(
                    "SELECT \(Self.sinkStateColumns) FROM sink_states WHERE pipeline = ?1 AND sink = ?2"
                ) { statement -> SinkState? in
                    try statement.bind(state.pipeline, at: 1)
                    try statement.bind(state.sink, at: 2)
                    return try statement.step() ? Self.sinkState(statement) : nil
                }
                let current = stored ?? SinkState(pipeline: state.pipeline, sink: state.sink)
                guard current.version == expectedVersion else { return (false, current) }
                var written = state
                written.version = expectedVersion + 1
                try database.withStatement(
                    """
                    INSERT OR REPLACE INTO sink_states (\(Self.sinkStateColumns))
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                    """
                ) { statement in
                    try statement.bind(written.pipeline, at: 1)
                    try statement.bind(written.sink, at: 2)
                    try statement.bind(written.status.rawValue, at: 3)
                    try statement.bind(written.frozenSinceMs, at: 4)
                    try statement.bind(written.changedAtMs, at: 5)
                    try statement.bind(written.nextProbeMs, at: 6)
                    try statement.bind(written.probeIntervalMs, at: 7)
                    try statement.bind(written.consecutiveFailures, at: 8)
                    try statement.bind(written.failingSinceMs, at: 9)
                    try statement.bind(written.reason, at: 10)
                    try statement.bind(written.announced ? 1 : 0, at: 11)
                    try statement.bind(written.version, at: 12)
                    try statement.bind(written.lastChange?.rawValue, at: 13)
                    try statement.run()
                }
                if current.status != .healthy, written.status == .healthy, let frozen = current.frozenSinceMs {
                    // The index on (pipeline, sink, next_attempt_at) of waiting rows finds them.
                    try database.withStatement(
                        """
                        UPDATE deliveries SET next_attempt_at = next_attempt_at + ?4
                        WHERE pipeline = ?1 AND sink = ?2 AND status IN ('pending', 'retrying')
                            AND next_attempt_at > ?3 AND created_at <= ?3
                        """
                    ) { statement in
                        try statement.bind(state.pipeline, at: 1)
                        try statement.bind(state.sink, at: 2)
                        try statement.bind(frozen, at: 3)
                        try statement.bind(max(0, nowMs - frozen), at: 4)
                        try statement.run()
                    }
                }
                return (true, written)
            }
        }
    }

    private static func sinkState(_ statement: SQLiteStatement) -> SinkState {
        SinkState(
            pipeline: statement.string(at: 0), sink: statement.string(at: 1),
            status: SinkState.Status(rawValue: statement.string(at: 2)) ?? .healthy,
            frozenSinceMs: statement.optionalInt64(at: 3), changedAtMs: statement.optionalInt64(at: 4),
            nextProbeMs: statement.optionalInt64(at: 5), probeIntervalMs: statement.optionalInt64(at: 6),
            consecutiveFailures: statement.int(at: 7), failingSinceMs: statement.optionalInt64(at: 8),
            reason: statement.string(at: 9), announced: statement.int(at: 10) != 0, version: statement.int64(at: 11),
            lastChange: statement.optionalString(at: 12).flatMap(SinkStateChange.Kind.init(rawValue:)))
    }
}
