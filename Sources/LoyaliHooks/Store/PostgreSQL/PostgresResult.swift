import CLibPQ

/// The rows (or command status) of one statement, owning its `PGresult` and clearing it in
/// `deinit`.
///
/// Queries ask for binary results, so integers and bytes arrive as they are stored, with no
/// parsing; the accessors decode them by the column's type. Scripts run with `PQexec` come back as
/// text, which the accessors read too.
final class PostgresResult {
    private let result: OpaquePointer
    /// The statement, for errors about its columns.
    private let sql: String

    /// Takes ownership of `result`.
    init(_ result: OpaquePointer, sql: String) {
        self.result = result
        self.sql = sql
    }

    deinit { PQclear(result) }

    /// Rows returned.
    var rowCount: Int { Int(PQntuples(result)) }

    /// Rows inserted, updated or deleted by the command (0 for other commands).
    var affectedRows: Int {
        guard let text = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    /// Whether the value at `row`, `column` is NULL.
    func isNull(_ row: Int, _ column: Int) -> Bool {
        PQgetisnull(result, Int32(row), Int32(column)) != 0
    }

    /// The raw bytes of the value at `row`, `column` (empty for NULL).
    private func raw(_ row: Int, _ column: Int) -> UnsafeBufferPointer<UInt8> {
        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
        guard let start = PQgetvalue(result, Int32(row), Int32(column)) else { return UnsafeBufferPointer(start: nil, count: 0) }
        // libpq keeps the value alive as long as the result, which this object owns.
        return UnsafeBufferPointer(start: UnsafeRawPointer(start).assumingMemoryBound(to: UInt8.self), count: length)
    }

    private func isBinary(_ column: Int) -> Bool { PQfformat(result, Int32(column)) == 1 }

    private func typeOID(_ column: Int) -> UInt32 { PQftype(result, Int32(column)) }

    private func mismatch(_ column: Int, _ wanted: String) -> PostgresError {
        PostgresError(sqlState: nil, message: "column \(column + 1) has type OID \(typeOID(column)), not \(wanted)", sql: sql)
    }

    /// The integer at `row`, `column` (`int2`, `int4` or `int8`), or `nil` for NULL.
    func optionalInt64(_ row: Int, _ column: Int) throws(PostgresError) -> Int64? {
        if isNull(row, column) { return nil }
        let bytes = raw(row, column)
        guard isBinary(column) else {
            guard let value = Int64(String(decoding: bytes, as: UTF8.self)) else { throw mismatch(column, "an integer") }
            return value
        }
        switch (typeOID(column), bytes.count) {
        case (PostgresValue.int8OID, 8), (PostgresValue.int4OID, 4), (PostgresValue.int2OID, 2):
            // Big-endian, sign-extended from the first byte.
            var value = Int64(Int8(bitPattern: bytes[0]))
            for byte in bytes.dropFirst() { value = value << 8 | Int64(byte) }
            return value
        default:
            throw mismatch(column, "an integer")
        }
    }

    /// The integer at `row`, `column`; NULL reads as 0.
    func int64(_ row: Int, _ column: Int) throws(PostgresError) -> Int64 {
        try optionalInt64(row, column) ?? 0
    }

    /// The text at `row`, `column`, or `nil` for NULL. Integers read as their decimal digits.
    func optionalString(_ row: Int, _ column: Int) throws(PostgresError) -> String? {
        if isNull(row, column) { return nil }
        if isBinary(column) {
            switch typeOID(column) {
            case PostgresValue.int2OID, PostgresValue.int4OID, PostgresValue.int8OID:
                return try optionalInt64(row, column).map(String.init)
            case PostgresValue.boolOID:
                return raw(row, column).first == 1 ? "true" : "false"
            case PostgresValue.byteaOID:
                throw mismatch(column, "text")
            default:
                break  // text, varchar, name, json: the binary form is the UTF-8 text
            }
        }
        return String(decoding: raw(row, column), as: UTF8.self)
    }

    /// The text at `row`, `column`; NULL reads as "".
    func string(_ row: Int, _ column: Int) throws(PostgresError) -> String {
        try optionalString(row, column) ?? ""
    }

    /// The `bool` at `row`, `column`; NULL reads as false.
    func bool(_ row: Int, _ column: Int) throws(PostgresError) -> Bool {
        if isNull(row, column) { return false }
        let bytes = raw(row, column)
        guard isBinary(column) else { return bytes.first == UInt8(ascii: "t") }
        guard typeOID(column) == PostgresValue.boolOID else { throw mismatch(column, "a boolean") }
        return bytes.first == 1
    }

    /// The `bytea` at `row`, `column` (empty for NULL).
    func bytes(_ row: Int, _ column: Int) throws(PostgresError) -> [UInt8] {
        if isNull(row, column) { return [] }
        let bytes = raw(row, column)
        if isBinary(column) {
            guard typeOID(column) == PostgresValue.byteaOID else { throw mismatch(column, "bytea") }
            return Array(bytes)
        }
        // Text format: `\x` then two hex digits per byte (bytea_output = hex, the default).
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"),
            let decoded = Hex.decode(String(decoding: UnsafeBufferPointer(rebasing: bytes.dropFirst(2)), as: UTF8.self))
        else { throw mismatch(column, "bytea in hex") }
        return decoded
    }
}
