import CSQLite

/// One SQLite connection, owning its `sqlite3*` and closing it in `deinit`.
///
/// Threading: the connection is opened with `SQLITE_OPEN_NOMUTEX` (SQLite's "multi-thread" mode),
/// so SQLite does not lock it, and it must never be used by two threads at once. The class is
/// deliberately not `Sendable`: its owner keeps it inside a `Mutex` (see `SQLiteDeliveryStore`), which
/// both serializes every call and lets the compiler check that no reference escapes the lock.
/// One lock of ours per call is cheaper than SQLite's per-API-call mutex under FULLMUTEX, and a
/// transaction spanning several statements needs our lock anyway.
///
/// Prepared statements are cached by their SQL text (`withStatement`), so batch writes prepare
/// each statement once.
final class SQLiteDatabase {
    /// The database file.
    let path: String
    private let connection: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    /// Told the outcome of every write transaction, if set.
    var writeHealth: WriteHealth?

    /// Opens (creating if needed) the database file at `path`; with `readOnly`, opens an existing
    /// file for reading only and never creates it.
    init(path: String, readOnly: Bool = false) throws {
        Self.configureOnce
        var opened: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard code == SQLITE_OK, let opened else {
            // Even a failed open may allocate a handle, which carries the better message.
            let error = opened.map { SQLiteError(connection: $0, sql: nil) } ?? SQLiteError(resultCode: code, sql: nil)
            sqlite3_close_v2(opened)
            throw error
        }
        sqlite3_extended_result_codes(opened, 1)
        self.path = path
        self.connection = opened
    }

    /// Process-wide settings, applied before the first connection opens (see the shim).
    private static let configureOnce: Void = {
        _ = loyali_sqlite_disable_memstatus()
    }()

    deinit {
        // Finalize cached statements first; close_v2 defers the close past any statement that is
        // still referenced elsewhere instead of failing with SQLITE_BUSY.
        statements.removeAll()
        sqlite3_close_v2(connection)
    }

    /// Waits up to `milliseconds` for another connection's lock before failing with SQLITE_BUSY.
    func setBusyTimeout(milliseconds: Int32) {
        sqlite3_busy_timeout(connection, milliseconds)
    }

    /// Runs one or more `;`-separated statements that return nothing wanted (schema, PRAGMAs).
    func execute(_ sql: String) throws {
        guard sqlite3_exec(connection, sql, nil, nil, nil) == SQLITE_OK else {
            throw SQLiteError(connection: connection, sql: sql)
        }
    }

    /// A fresh, uncached statement; for SQL that runs once.
    func makeStatement(_ sql: String) throws -> SQLiteStatement {
        try SQLiteStatement(connection: connection, sql: sql, persistent: false)
    }

    /// The cached statement for `sql`, prepared on first use.
    func cachedStatement(_ sql: String) throws -> SQLiteStatement {
        if let statement = statements[sql] { return statement }
        let statement = try SQLiteStatement(connection: connection, sql: sql, persistent: true)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` with the cached statement for `sql`, then resets it and clears its bindings.
    ///
    /// The reset matters beyond reuse: a SELECT left mid-way keeps its read transaction open,
    /// which would pin an old WAL snapshot and stop checkpoints.
    func withStatement<T>(_ sql: String, _ body: (SQLiteStatement) throws -> T) throws -> T {
        let statement = try cachedStatement(sql)
        defer {
            statement.reset()
            statement.clearBindings()
        }
        return try body(statement)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`, rolling back if it (or the commit) throws.
    ///
    /// IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading read
    /// transactions; a waiting writer is covered by the busy timeout.
    ///
    /// `durable: false` commits without an fsync (`synchronous = NORMAL` for this transaction
    /// only). The commit still survives a crash of the process, and the next durable commit
    /// fsyncs the WAL up to and including it; only a power loss before then can undo it. Use it
    /// only where losing the transaction is harmless, e.g. when it would merely cause a resend.
    /// The connection is assumed to run with `synchronous = FULL`, which is restored afterwards.
    func transaction<T>(durable: Bool = true, _ body: () throws -> T) throws -> T {
        if !durable { try withStatement("PRAGMA synchronous = NORMAL") { try $0.run() } }
        defer { if !durable { try? withStatement("PRAGMA synchronous = FULL") { try $0.run() } } }
        do {
            try withStatement("BEGIN IMMEDIATE") { try $0.run() }
            let result = try body()
            try withStatement("COMMIT") { try $0.run() }
            writeHealth?.note(nil)
            return result
        } catch {
            if !isAutocommit { try? withStatement("ROLLBACK") { try $0.run() } }
            writeHealth?.note(error)
            throw error
        }
    }

    /// Whether no transaction is open.
    var isAutocommit: Bool { sqlite3_get_autocommit(connection) != 0 }

    /// The rowid of the last row inserted.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(connection) }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes64(connection)) }

    /// The first column of the first row of `sql` as an integer (`nil` when no row or NULL).
    func scalarInt64(_ sql: String) throws -> Int64? {
        try withStatement(sql) { statement in
            try statement.step() ? statement.optionalInt64(at: 0) : nil
        }
    }

    /// The first column of the first row of `sql` as text (`nil` when no row or NULL).
    func scalarString(_ sql: String) throws -> String? {
        try withStatement(sql) { statement in
            try statement.step() ? statement.optionalString(at: 0) : nil
        }
    }
}
