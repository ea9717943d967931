import CLibPQ
import Glibc

/// One PostgreSQL connection, owning its `PGconn` and closing it in `deinit`.
///
/// Every call blocks on the network: **use a connection only from a dedicated thread**, never
/// from Swift's cooperative pool (the store's callers are the runner's store and ingest threads,
/// as with SQLite, and the listener thread of ``PostgresNotifier``). Like ``SQLiteDatabase`` the
/// class is not `Sendable`: its owner keeps it behind a lock, which serializes every call.
///
/// Statements run with parameters (`$1`, `$2`, …, see ``PostgresValue``), never by splicing values
/// into SQL, and are prepared once per connection and cached by their text. Every error message
/// passes through the target's redaction, so it never holds the password.
final class PostgresConnection {
    /// Where this connection goes.
    let target: PostgresTarget
    private let handle: OpaquePointer
    /// Prepared statement names by SQL text; emptied when the connection is reset.
    private var prepared: [String: String] = [:]

    /// Connects to `target`. Gives up after `connectTimeoutSeconds` unless the URL sets
    /// `connect_timeout` itself. With `readOnly`, every transaction on the connection is read only
    /// (`SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`), so the server refuses any write
    /// through it (SQLSTATE 25006). Throws a ``PostgresError`` with `isConnectionLoss` when the
    /// server cannot be reached, or with the server's SQLSTATE when it refused the login.
    init(
        target: PostgresTarget, applicationName: String = "loyali-hooks", connectTimeoutSeconds: Int = 5, readOnly: Bool = false
    ) throws(PostgresError) {
        // Later keywords win, and the URL (dbname, expanded) comes last, so it can override both.
        let keywords = ["connect_timeout", "fallback_application_name", "dbname"]
        let values = [String(connectTimeoutSeconds), applicationName, target.url]
        let opened = Self.withCStrings(keywords) { keywordPointers in
            Self.withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let opened else {
            throw PostgresError(sqlState: nil, message: "cannot connect to \(target.redacted): out of memory", isConnectionLoss: true)
        }
        guard PQstatus(opened) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(opened))
            PQfinish(opened)
            // A refused login is not a lost connection: trying again will not help.
            let refused = message.contains("password authentication failed") || message.contains("does not exist")
                || message.contains("no password supplied") || message.contains("no pg_hba.conf entry")
            throw PostgresError(
                sqlState: nil,
                message: target.redaction.apply("cannot connect to \(target.redacted): \(PostgresError.oneLine(message))"),
                isConnectionLoss: !refused)
        }
        self.target = target
        self.handle = opened
        // Notices (e.g. "relation already exists, skipping") would go to stderr by default.
        PQsetNoticeProcessor(opened, { _, _ in }, nil)
        // Set after connecting, not as a libpq `options` keyword, which the URL could override.
        if readOnly { try execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY") }
    }

    deinit { PQfinish(handle) }

    /// Whether the connection is still up as far as libpq knows (it learns of a loss on the next
    /// call that fails).
    var isConnected: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The server's version as an integer, e.g. 150018 for 15.18.
    var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// The socket, for waiting on notifications with `poll`.
    var socket: Int32 { PQsocket(handle) }

    /// Runs one or more `;`-separated statements without parameters (schema scripts).
    func execute(_ script: String) throws(PostgresError) {
        let result = PQexec(handle, script)
        defer { PQclear(result) }
        try check(result, sql: script)
    }

    /// Runs `sql` with `parameters`, preparing it on first use (`prepare: false` for SQL that
    /// runs once, e.g. with a generated name in it). Returns the rows, in binary format.
    @discardableResult
    func query(_ sql: String, _ parameters: [PostgresValue] = [], prepare: Bool = true) throws(PostgresError) -> PostgresResult {
        let encoded = parameters.map(\.encoded)
        let types = encoded.map(\.type)
        var name: String?
        if prepare {
            name = prepared[sql]
            if name == nil {
                let newName = "loyali_\(prepared.count + 1)"
                let result = PQprepare(handle, newName, sql, Int32(types.count), types)
                defer { PQclear(result) }
                try check(result, sql: sql)
                prepared[sql] = newName
                name = newName
            }
        }
        let result = Self.withParameters(encoded) { values, lengths, formats in
            if let name {
                return PQexecPrepared(handle, name, Int32(encoded.count), values, lengths, formats, 1)
            }
            return PQexecParams(handle, sql, Int32(encoded.count), types, values, lengths, formats, 1)
        }
        guard let result else {
            throw error(sql: sql, fallback: "out of memory")
        }
        do {
            try check(result, sql: sql)
        } catch {
            PQclear(result)
            throw error
        }
        return PostgresResult(result, sql: sql)
    }

    /// Runs `body` inside `BEGIN … COMMIT`, rolling back if it (or the commit) throws.
    @discardableResult
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let value = try body()
            try query("COMMIT")
            return value
        } catch {
            if isConnected, PQtransactionStatus(handle) != PQTRANS_IDLE { _ = try? query("ROLLBACK") }
            throw error
        }
    }

    /// Notifications received so far (after `LISTEN`), reading whatever the socket holds without
    /// waiting.
    func takeNotifications() throws(PostgresError) -> [(channel: String, payload: String)] {
        guard PQconsumeInput(handle) == 1 else { throw error(sql: nil, fallback: "connection lost") }
        var notifications: [(channel: String, payload: String)] = []
        while let notification = PQnotifies(handle) {
            notifications.append((String(cString: notification.pointee.relname), String(cString: notification.pointee.extra)))
            PQfreemem(notification)
        }
        return notifications
    }

    /// Waits up to `milliseconds` for the socket to have something to read (a notification, or
    /// the server closing it). Returns whether it has.
    func waitForInput(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    // MARK: Errors

    /// Throws if `result` is not a success.
    private func check(_ result: OpaquePointer?, sql: String?) throws(PostgresError) {
        guard let result else { throw error(sql: sql, fallback: "out of memory") }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return
        default:
            let field = { (code: UInt8) -> String? in
                PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
            }
            let sqlState = field(UInt8(ascii: "C"))  // PG_DIAG_SQLSTATE
            var message = field(UInt8(ascii: "M")) ?? String(cString: PQresultErrorMessage(result))  // PG_DIAG_MESSAGE_PRIMARY
            if let detail = field(UInt8(ascii: "D")) { message += " (\(detail))" }  // PG_DIAG_MESSAGE_DETAIL
            if sqlState == nil || message.isEmpty {
                throw error(sql: sql, fallback: message.isEmpty ? "failed" : message)
            }
            throw PostgresError(
                sqlState: sqlState, message: target.redaction.apply(PostgresError.oneLine(message)), sql: sql,
                isConnectionLoss: !isConnected || PostgresError.isConnectionLoss(sqlState: sqlState))
        }
    }

    /// The connection's own last error (libpq's, with no SQLSTATE: a lost connection, typically).
    private func error(sql: String?, fallback: String) -> PostgresError {
        let text = PostgresError.oneLine(String(cString: PQerrorMessage(handle)))
        return PostgresError(
            sqlState: nil, message: target.redaction.apply(text.isEmpty ? fallback : text), sql: sql,
            isConnectionLoss: !isConnected)
    }

    // MARK: C arrays

    /// Runs `body` with a NULL-terminated array of C strings.
    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// Runs `body` with the parameter arrays `PQexecParams` takes: values (NULL for SQL NULL),
    /// lengths and formats, all pointing into one buffer.
    private static func withParameters<R>(
        _ encoded: [(type: UInt32, format: Int32, bytes: [UInt8]?)],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) -> R {
        if encoded.isEmpty { return body(nil, nil, nil) }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(encoded.reduce(0) { $0 + ($1.bytes?.count ?? 0) })
        var offsets: [Int?] = []
        for parameter in encoded {
            if let bytes = parameter.bytes {
                offsets.append(buffer.count)
                buffer += bytes
            } else {
                offsets.append(nil)
            }
        }
        if buffer.isEmpty { buffer.append(0) }  // so the base address is never nil
        let lengths = encoded.map { Int32($0.bytes?.count ?? 0) }
        let formats = encoded.map(\.format)
        return buffer.withUnsafeBufferPointer { storage in
            let base = UnsafeRawPointer(storage.baseAddress!)
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in
                offset.map { (base + $0).assumingMemoryBound(to: CChar.self) }
            }
            return values.withUnsafeBufferPointer { valuePointers in
                lengths.withUnsafeBufferPointer { lengthPointers in
                    formats.withUnsafeBufferPointer { formatPointers in
                        body(valuePointers.baseAddress, lengthPointers.baseAddress, formatPointers.baseAddress)
                    }
                }
            }
        }
    }
}
