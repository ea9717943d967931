/// File sources across nodes: each is read by one node at a time, the holder of a PostgreSQL
/// advisory lock named after it, and its checkpoint lives in the same database.
///
/// The lock is a session lock on the INGEST connection, the one that commits the source's batches
/// and checkpoint. So a node that loses that connection loses the lock with it, and its next
/// checkpointed commit finds the lock gone and fails instead of moving the checkpoint behind the
/// back of the node that took over.
extension PostgresDeliveryStore {
    /// The advisory lock key of `source`: 64-bit FNV-1a of a prefix and the source's identity.
    static func sourceLockKey(_ source: String) -> Int64 {
        advisoryLockKey("source " + source)
    }

    /// An advisory lock key of this program's: 64-bit FNV-1a of `loyali-hooks ` and `name`.
    static func advisoryLockKey(_ name: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array("loyali-hooks ".utf8) + Array(name.utf8) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int64(bitPattern: hash)
    }

    /// Takes `source`'s lock for this node if no other node holds it, and keeps it until the
    /// ingest connection closes. Returns whether this node holds it now. Blocking.
    public func acquireSourceLock(_ source: String) throws -> Bool {
        let key = Self.sourceLockKey(source)
        return try ingest.run { try Self.takeSourceLock(key, $0) }
    }

    /// Whether this session holds the lock `key` now, taking it if it is free. Taken once: a
    /// session lock counts how often it was taken and would need as many unlocks.
    static func takeSourceLock(_ key: Int64, _ connection: PostgresConnection) throws -> Bool {
        if try holdsSourceLock(key, connection) { return true }
        // A session lock, so it outlives the transaction this may run in, committed or not.
        return try connection.query("SELECT pg_try_advisory_lock($1::bigint)", [.int64(key)]).bool(0, 0)
    }

    /// Whether this connection's session holds the advisory lock `key` (a bigint key shows in
    /// `pg_locks` as its high half in `classid`, its low half in `objid`, with `objsubid` 1).
    static func holdsSourceLock(_ key: Int64, _ connection: PostgresConnection) throws -> Bool {
        let bits = UInt64(bitPattern: key)
        return try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
                AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1 AND granted)
            """, [.int64(Int64(bits >> 32)), .int64(Int64(bits & 0xFFFF_FFFF))]
        ).bool(0, 0)
    }

    /// The `application_name` of this node's listener (``PostgresNotifier``): a fixed prefix and
    /// a hash of the node id, so it is plain ASCII and never cut at 63 bytes, as the server would
    /// cut or mask a long or non-ASCII node id.
    public var listenerName: String {
        let hash = UInt64(bitPattern: Self.sourceLockKey("node " + nodeID))
        return Self.listenerPrefix + String(hash, radix: 16)
    }

    static let listenerPrefix = "loyali-hooks listener "

    /// The other nodes listening on this database now: distinct listener names but this node's.
    /// Every runner (`serve`, `run`) listens while it works; read commands do not. Blocking.
    public func otherNodes() throws -> Int {
        try ingest.run { connection in
            Int(
                try connection.query(
                    """
                    SELECT count(DISTINCT application_name) FROM pg_stat_activity
                    WHERE datname = current_database() AND starts_with(application_name, $1) AND application_name <> $2
                    """, [.text(Self.listenerPrefix), .text(listenerName)]
                ).int64(0, 0))
        }
    }

    /// Thrown by a checkpointed commit when another node holds the source's lock.
    static func sourceLockLost(_ source: String, location: String) -> PostgresError {
        PostgresError(
            sqlState: nil,
            message: "another node holds the lock of source \(source) on \(location) and reads it; this node's batch was not stored")
    }
}
