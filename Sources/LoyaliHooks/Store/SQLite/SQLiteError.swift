import CSQLite

/// A failed SQLite call: the result codes, SQLite's own message and the statement that failed.
///
/// Renders like `SQLite error 19 (constraint failed), extended 275: CHECK constraint failed: id <> ''
/// [in: INSERT INTO deliveries …]`.
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The primary result code, e.g. 19 (`SQLITE_CONSTRAINT`) or 5 (`SQLITE_BUSY`).
    public var code: Int32
    /// The extended result code, e.g. 2067 (`SQLITE_CONSTRAINT_UNIQUE`); equals `code` when SQLite
    /// gives no detail.
    public var extendedCode: Int32
    /// SQLite's message, e.g. "UNIQUE constraint failed: deliveries.id".
    public var message: String
    /// The SQL being prepared or run, when the failure belongs to one statement.
    public var sql: String?

    /// Makes an error from its parts.
    public init(code: Int32, extendedCode: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
    }

    /// The error the connection reports for its last failed call.
    init(connection: OpaquePointer?, sql: String?) {
        let extended = connection.map { sqlite3_extended_errcode($0) } ?? SQLITE_NOMEM
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        self.init(
            code: extended & 0xFF, extendedCode: extended,
            message: message ?? String(cString: sqlite3_errstr(extended)), sql: sql)
    }

    /// The error for a result code when the connection's message would not match it (e.g. a
    /// failed `sqlite3_open_v2`, or a bind that was rejected before running anything).
    init(resultCode: Int32, sql: String?) {
        self.init(
            code: resultCode & 0xFF, extendedCode: resultCode,
            message: String(cString: sqlite3_errstr(resultCode)), sql: sql)
    }

    /// SQLite's short name for the primary code, e.g. "database is locked".
    public var codeDescription: String { String(cString: sqlite3_errstr(code)) }

    /// One line with the codes, the message and the SQL.
    public var description: String {
        var text = "SQLite error \(code) (\(codeDescription))"
        if extendedCode != code { text += ", extended \(extendedCode)" }
        text += ": \(message)"
        if let sql { text += " [in: \(Self.compact(sql))]" }
        return text
    }

    /// Long schema or batch SQL on one line, so a log line stays one line (PostgresError's too).
    static func compact(_ sql: String) -> String {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        let line = words.joined(separator: " ")
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }
}

extension SQLiteError: StoreEngineError {
    /// Primary result codes that mean the store cannot be written at all.
    private static let unavailableCodes: Set<Int32> = [
        SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_CORRUPT, SQLITE_NOTADB,
    ]

    /// `SQLite error CODE (MESSAGE)` for a full disk, an I/O error, a read-only or corrupt file.
    public var unavailableReason: String? {
        Self.unavailableCodes.contains(code) ? "SQLite error \(code) (\(message))" : nil
    }
}
