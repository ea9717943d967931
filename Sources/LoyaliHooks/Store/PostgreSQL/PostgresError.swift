/// A failed PostgreSQL call: the SQLSTATE (when the server sent one), the message, and the
/// statement that failed.
///
/// Renders like `PostgreSQL error 23505: duplicate key value violates unique constraint
/// "deliveries_pkey" [in: INSERT INTO deliveries …]`. Every message has been passed through the
/// connection's redaction first, so a password never appears in it (see ``PostgresTarget``).
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The five-character SQLSTATE, e.g. `23505` (unique violation) or `08006` (connection
    /// failure); `nil` when the failure happened in libpq before the server answered.
    public var sqlState: String?
    /// The server's or libpq's message, on one line, password redacted.
    public var message: String
    /// The SQL being run, when the failure belongs to one statement.
    public var sql: String?
    /// Whether the connection was lost (or never made) rather than the statement refused: the
    /// caller should reconnect and may try again.
    public var isConnectionLoss: Bool

    /// Makes an error from its parts.
    public init(sqlState: String?, message: String, sql: String? = nil, isConnectionLoss: Bool = false) {
        self.sqlState = sqlState
        self.message = message
        self.sql = sql
        self.isConnectionLoss = isConnectionLoss
    }

    /// SQLSTATE classes and codes that mean the server went away or is not taking connections:
    /// 08 (connection exception), 57P01–57P03 (shutdown, crash shutdown, cannot connect now).
    static func isConnectionLoss(sqlState: String?) -> Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }

    /// One line with the SQLSTATE, the message and the SQL.
    public var description: String {
        var text = "PostgreSQL error"
        if let sqlState { text += " \(sqlState)" }
        text += ": \(message)"
        if let sql { text += " [in: \(SQLiteError.compact(sql))]" }
        return text
    }

    /// libpq's messages end in a newline and may span lines (`DETAIL:`, `HINT:`); a log line
    /// stays one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\t" })
            .map { $0.drop(while: { $0 == " " }) }
            .joined(separator: " ")
    }
}
