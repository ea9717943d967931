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

extension PostgresError: StoreEngineError {
    /// SQLSTATEs that mean the database cannot take writes now, though the same write may
    /// succeed later: disk full (53100), out of memory (53200), too many connections (53300),
    /// a read-only server such as a standby (25006).
    private static let unavailableStates: Set<String> = ["53100", "53200", "53300", "25006"]

    /// Why the store cannot be written now (the database is unreachable, restarting, full or
    /// read-only), or `nil` when this error is about the statement itself.
    public var unavailableReason: String? {
        guard isConnectionLoss || sqlState.map(Self.unavailableStates.contains) == true else { return nil }
        return "PostgreSQL unavailable: \(message)"
    }
}
