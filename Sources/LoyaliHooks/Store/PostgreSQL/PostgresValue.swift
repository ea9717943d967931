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
            return (Self.textArrayOID, 1, Self.binaryArray(element: Self.textOID, values, size: { $0.utf8.count }, write: { $0.append(contentsOf: $1.utf8) }))
        case .int64Array(let values):
            return (Self.int8ArrayOID, 1, Self.binaryArray(element: Self.int8OID, values, size: { _ in 8 }, write: { Self.append($1, to: &$0) }))
        case .bytesArray(let values):
            return (Self.byteaArrayOID, 1, Self.binaryArray(element: Self.byteaOID, values, size: \.count, write: { $0.append(contentsOf: $1) }))
        }
    }

    /// A one-dimensional array in the binary format of `array_recv`: dimensions, a has-NULLs
    /// flag, the element type, the length and lower bound, then each element as a length
    /// (-1 for NULL) and its bytes, each written straight into the one output buffer by `write`
    /// (`size` bytes): a batch's columns are thousands of elements, and a temporary array per
    /// element and per length was most of what encoding them cost.
    static func binaryArray<Element>(
        element: UInt32, _ elements: [Element?], size: (Element) -> Int, write: (inout [UInt8], Element) -> Void
    ) -> [UInt8] {
        var out: [UInt8] = []
        var total = 20
        var hasNull = false
        for element in elements {
            if let element { total += 4 + size(element) } else { total += 4; hasNull = true }
        }
        out.reserveCapacity(total)
        append(Int32(1), to: &out)
        append(Int32(hasNull ? 1 : 0), to: &out)
        append(element, to: &out)
        append(Int32(elements.count), to: &out)
        append(Int32(1), to: &out)
        for element in elements {
            if let element {
                append(Int32(size(element)), to: &out)
                write(&out, element)
            } else {
                append(Int32(-1), to: &out)
            }
        }
        return out
    }

    /// Appends `value` big-endian, with no temporary array.
    static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }
}
