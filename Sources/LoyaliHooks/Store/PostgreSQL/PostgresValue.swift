/// One parameter of a PostgreSQL statement (`$1`, `$2`, …).
///
/// Scalars go as text, with no declared type, so the server reads them as whatever type the
/// statement expects. Bytes and arrays go in PostgreSQL's binary format with their type, so a
/// body is sent as it is (no hex doubling) and a whole batch fits in one parameter per column
/// (`INSERT … SELECT * FROM unnest($1::text[], …)`), one prepared statement for any batch size.
enum PostgresValue: Sendable, Equatable {
    case null
    case text(String)
    case int64(Int64)
    case bytes([UInt8])
    case textArray([String?])
    case int64Array([Int64?])
    case bytesArray([[UInt8]?])

    /// Text, or NULL when `nil`.
    static func text(_ value: String?) -> PostgresValue { value.map { .text($0) } ?? .null }
    /// An integer, or NULL when `nil`.
    static func int64(_ value: Int64?) -> PostgresValue { value.map { .int64($0) } ?? .null }
    /// An integer, or NULL when `nil`.
    static func int(_ value: Int?) -> PostgresValue { value.map { .int64(Int64($0)) } ?? .null }

    // Type OIDs from pg_type.dat; they are fixed for every PostgreSQL release.
    static let byteaOID: UInt32 = 17
    static let int8OID: UInt32 = 20
    static let int2OID: UInt32 = 21
    static let int4OID: UInt32 = 23
    static let textOID: UInt32 = 25
    static let boolOID: UInt32 = 16
    static let byteaArrayOID: UInt32 = 1001
    static let textArrayOID: UInt32 = 1009
    static let int8ArrayOID: UInt32 = 1016

    /// The wire form: type OID (0 lets the server infer it), format (0 text, 1 binary), and the
    /// bytes (`nil` for NULL; text is NUL-terminated, as libpq reads it).
    var encoded: (type: UInt32, format: Int32, bytes: [UInt8]?) {
        switch self {
        case .null: return (0, 0, nil)
        case .text(let text): return (0, 0, Array(text.utf8) + [0])
        case .int64(let value): return (0, 0, Array(String(value).utf8) + [0])
        case .bytes(let bytes): return (Self.byteaOID, 1, bytes)
        case .textArray(let values):
            return (Self.textArrayOID, 1, Self.binaryArray(element: Self.textOID, values.map { $0.map { Array($0.utf8) } }))
        case .int64Array(let values):
            return (Self.int8ArrayOID, 1, Self.binaryArray(element: Self.int8OID, values.map { $0.map(Self.bigEndian) }))
        case .bytesArray(let values):
            return (Self.byteaArrayOID, 1, Self.binaryArray(element: Self.byteaOID, values))
        }
    }

    /// A one-dimensional array in the binary format of `array_recv`: dimensions, a has-NULLs
    /// flag, the element type, the length and lower bound, then each element as a length
    /// (-1 for NULL) and its bytes.
    static func binaryArray(element: UInt32, _ elements: [[UInt8]?]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(20 + elements.reduce(0) { $0 + 4 + ($1?.count ?? 0) })
        let hasNull = elements.contains { $0 == nil }
        out += bigEndian(Int32(1))
        out += bigEndian(Int32(hasNull ? 1 : 0))
        out += bigEndian(element)
        out += bigEndian(Int32(elements.count))
        out += bigEndian(Int32(1))
        for element in elements {
            if let element {
                out += bigEndian(Int32(element.count))
                out += element
            } else {
                out += bigEndian(Int32(-1))
            }
        }
        return out
    }

    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}
