import CSQLite

/// `SQLITE_TRANSIENT`: SQLite copies bound text and blobs before the bind call returns, so Swift
/// buffers only need to live for the call. The C macro is a cast of -1 that Swift cannot import.
private let transientDestructor = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement, owning its `sqlite3_stmt` and finalizing it in `deinit`.
///
/// Parameter and column indexes follow SQLite: parameters start at 1, columns at 0. A statement
/// is reused by `reset()` (and `clearBindings()`); the database caches them by SQL text.
///
/// Not `Sendable`: it belongs to one connection, which is only touched under its owner's lock.
final class SQLiteStatement {
    /// The SQL text it was prepared from.
    let sql: String
    private let handle: OpaquePointer
    /// The owning connection, for error messages. SQLite keeps it open while this statement
    /// exists (the database closes with `sqlite3_close_v2`).
    private let connection: OpaquePointer

    /// Prepares one SQL statement. `persistent` hints that it will be cached and reused.
    init(connection: OpaquePointer, sql: String, persistent: Bool) throws {
        var prepared: OpaquePointer?
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let code = sqlite3_prepare_v3(connection, sql, -1, flags, &prepared, nil)
        guard code == SQLITE_OK, let prepared else {
            sqlite3_finalize(prepared)
            throw SQLiteError(connection: connection, sql: sql)
        }
        self.sql = sql
        self.handle = prepared
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    // MARK: Binding

    /// Binds an integer to parameter `index` (1-based).
    func bind(_ value: Int64, at index: Int) throws {
        try check(sqlite3_bind_int64(handle, Int32(index), value))
    }

    /// Binds an integer to parameter `index` (1-based).
    func bind(_ value: Int, at index: Int) throws {
        try bind(Int64(value), at: index)
    }

    /// Binds UTF-8 text to parameter `index` (1-based).
    func bind(_ value: String, at index: Int) throws {
        var text = value
        let code = text.withUTF8 { utf8 -> Int32 in
            // A nil base address would bind NULL instead of the empty string.
            guard let base = utf8.baseAddress, utf8.count > 0 else {
                return sqlite3_bind_text(handle, Int32(index), "", 0, transientDestructor)
            }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                sqlite3_bind_text(handle, Int32(index), $0, Int32(utf8.count), transientDestructor)
            }
        }
        try check(code)
    }

    /// Binds a blob to parameter `index` (1-based).
    func bind(bytes: [UInt8], at index: Int) throws {
        let code = bytes.withUnsafeBytes { raw -> Int32 in
            // A nil pointer would bind NULL; an empty blob is a zero-length zeroblob.
            guard let base = raw.baseAddress, raw.count > 0 else {
                return sqlite3_bind_zeroblob(handle, Int32(index), 0)
            }
            return sqlite3_bind_blob(handle, Int32(index), base, Int32(raw.count), transientDestructor)
        }
        try check(code)
    }

    /// Binds SQL NULL to parameter `index` (1-based).
    func bindNull(at index: Int) throws {
        try check(sqlite3_bind_null(handle, Int32(index)))
    }

    /// Binds an integer, or NULL for `nil`.
    func bind(_ value: Int64?, at index: Int) throws {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    /// Binds an integer, or NULL for `nil`.
    func bind(_ value: Int?, at index: Int) throws {
        if let value { try bind(Int64(value), at: index) } else { try bindNull(at: index) }
    }

    /// Binds text, or NULL for `nil`.
    func bind(_ value: String?, at index: Int) throws {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    // MARK: Running

    /// Runs to the next row. Returns `true` when a row is ready to read, `false` when done.
    func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw SQLiteError(connection: connection, sql: sql)
        }
    }

    /// Runs a statement that returns no rows (or whose rows are not wanted) to completion.
    func run() throws {
        while try step() {}
    }

    /// Rewinds so the statement can run again; bindings are kept.
    func reset() {
        // The return value repeats the last step's error, which was already thrown.
        sqlite3_reset(handle)
    }

    /// Sets every parameter back to NULL.
    func clearBindings() {
        sqlite3_clear_bindings(handle)
    }

    // MARK: Columns

    /// Whether column `index` (0-based) of the current row is NULL.
    func isNull(at index: Int) -> Bool {
        sqlite3_column_type(handle, Int32(index)) == SQLITE_NULL
    }

    /// Whether column `index` (0-based) of the current row is a BLOB.
    func isBlob(at index: Int) -> Bool {
        sqlite3_column_type(handle, Int32(index)) == SQLITE_BLOB
    }

    /// Column `index` as an integer (0 for NULL).
    func int64(at index: Int) -> Int64 {
        sqlite3_column_int64(handle, Int32(index))
    }

    /// Column `index` as an `Int` (0 for NULL).
    func int(at index: Int) -> Int {
        Int(sqlite3_column_int64(handle, Int32(index)))
    }

    /// Column `index` as an integer, `nil` for NULL.
    func optionalInt64(at index: Int) -> Int64? {
        isNull(at: index) ? nil : int64(at: index)
    }

    /// Column `index` as UTF-8 text ("" for NULL).
    func string(at index: Int) -> String {
        // Ask for the text before its length: the conversion may change the byte count.
        guard let text = sqlite3_column_text(handle, Int32(index)) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, Int32(index)))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// Column `index` as text, `nil` for NULL.
    func optionalString(at index: Int) -> String? {
        isNull(at: index) ? nil : string(at: index)
    }

    /// Column `index` as bytes (empty for NULL or a zero-length blob).
    func bytes(at index: Int) -> [UInt8] {
        guard let blob = sqlite3_column_blob(handle, Int32(index)) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, Int32(index)))
        return Array(UnsafeRawBufferPointer(start: blob, count: count))
    }

    private func check(_ code: Int32) throws {
        guard code == SQLITE_OK else { throw SQLiteError(resultCode: code, sql: sql) }
    }
}
