import Foundation

/// Opening a store that must already exist: for commands that read the delivery log (`deliveries`,
/// `stats`) or change existing rows (`resend`). A typo in `--state` must not leave an empty state
/// directory and database behind and then report "no deliveries match".
extension SQLiteDeliveryStore {
    /// Opens the store in `directory` without creating anything: throws ``DeliveryStoreError``
    /// with kind `.noState` when the directory or its database does not exist.
    ///
    /// With `readOnly`, the connection cannot write (`SQLITE_OPEN_READONLY`); it still reads a
    /// runner's committed transactions from the WAL, and SQLite may create the `-wal` and `-shm`
    /// side files a WAL reader needs next to an existing database. A database from an older
    /// build is migrated by a read-write connection first (it cannot be read as it is); one from
    /// a newer build is refused.
    public convenience init(existingDirectory directory: String, readOnly: Bool, options: StoreOptions = StoreOptions()) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DeliveryStoreError(
                .noState, path: directory,
                message: "the state directory does not exist (nothing has run with this state; check --state or LOYALI_HOOKS_STATE)")
        }
        let path = Self.file(Self.fileName, in: directory)
        guard FileManager.default.fileExists(atPath: path) else {
            throw DeliveryStoreError(
                .noState, path: directory,
                message: "the state directory has no database (\(Self.fileName)): nothing has run with this state yet")
        }
        let database = try SQLiteDatabase(path: path, readOnly: readOnly)
        database.setBusyTimeout(milliseconds: 5_000)
        let found = try SQLiteSchema.version(of: database)
        let known = SQLiteSchema.currentVersion
        guard found != 0 else {
            throw DeliveryStoreError(
                .noState, path: path, message: "the file holds no loyali-hooks state database (schema 0)")
        }
        guard found <= known else { throw DeliveryStoreError.schemaTooNew(found: found, known: known, path: path) }
        if found < known {
            // Older schema: migrate it as any runner would, then read through that connection.
            try self.init(directory: directory, options: options)
            return
        }
        try database.execute(
            """
            PRAGMA foreign_keys = ON;
            PRAGMA cache_size = -16000;
            """)
        if !readOnly {
            // The same durability as a runner's connection (see `init(directory:)`).
            try database.execute("PRAGMA synchronous = FULL")
        }
        self.init(opened: database, options: options)
    }
}
