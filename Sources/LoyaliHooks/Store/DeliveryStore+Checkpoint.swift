extension DeliveryStore {
    /// Sets how many WAL pages this connection lets accumulate before it checkpoints them into
    /// the database file (SQLite's `wal_autocheckpoint`, 1,000 by default). A long-running writer
    /// with a high commit rate (`serve`'s ingest) checkpoints less often, and with each checkpoint
    /// comes an fdatasync. The WAL file is still truncated to `journal_size_limit` afterwards.
    /// Per connection; blocking.
    public func setWALCheckpointInterval(pages: Int) throws {
        try withDatabase { try $0.execute("PRAGMA wal_autocheckpoint = \(max(0, pages))") }
    }
}
