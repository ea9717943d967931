extension SQLiteDeliveryStore {
    /// Sets how many WAL pages this connection lets accumulate before it checkpoints them into
    /// the database file itself (SQLite's `wal_autocheckpoint`, 1,000 by default; 0 turns it off).
    /// Per connection; blocking.
    public func setWALCheckpointInterval(pages: Int) throws {
        try withDatabase { try $0.execute("PRAGMA wal_autocheckpoint = \(max(0, pages))") }
    }

    /// Copies what the WAL holds into the database file without waiting for (or blocking)
    /// writers and readers (`PRAGMA wal_checkpoint(PASSIVE)`). Returns the WAL's size and how
    /// much of it is now checkpointed, in pages. Blocking (it syncs files): call it from a
    /// dedicated thread, on a connection of its own.
    @discardableResult
    public func checkpointWAL() throws -> (walPages: Int, checkpointedPages: Int) {
        try withDatabase { database in
            try database.withStatement("PRAGMA wal_checkpoint(PASSIVE)") { statement in
                guard try statement.step() else { return (0, 0) }
                return (statement.int(at: 1), statement.int(at: 2))
            }
        }
    }
}
