/// A strict RFC 8259 JSON parser that produces exact, ordered ``JSONValue``s.
///
/// - Whitespace is only space, tab, CR and LF; a UTF-8 byte order mark is rejected.
/// - Numbers are checked against the JSON grammar and kept as their literal text, so `1E400`,
///   `12.50` and `1000000000000` survive a round trip exactly as written.
/// - Strings must be valid UTF-8 (no overlongs, no encoded surrogates, nothing above U+10FFFF),
///   may not contain raw control characters, and may not carry lone `\u` surrogates.
/// - Duplicate keys are refused at any depth, as I-JSON (RFC 7493) requires; the error names
///   the key and its path (``JSONParseError/duplicateKey``).
/// - Anything but whitespace after the value is an error.
///
/// Errors carry the byte offset plus the line and column, which are only computed once parsing
/// has already failed.
public enum JSONParser {
    /// The default limit on nested arrays and objects. Deep enough for any real event and shallow
    /// enough that recursion cannot exhaust a thread's stack.
    public static let defaultMaxDepth = 512

    /// Parses one JSON text from UTF-8 bytes.
    ///
    /// - Parameter maxDepth: the most arrays/objects that may be open at once. The parser recurses
    ///   once per level, so raising this far above the default needs a correspondingly large stack.
    public static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) -> JSONValue {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            throw JSONParseError(
                offset: 0, line: 1, column: 1, reason: "unexpected end of input; expected a value")
        }
        var reader = JSONReader(base: base, count: bytes.count, maxDepth: maxDepth)
        return try reader.parseDocument()
    }

    /// Parses one JSON text from UTF-8 bytes.
    public static func parse(
        _ bytes: [UInt8], maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) -> JSONValue {
        // `withUnsafeBufferPointer` only rethrows untyped errors, so the typed error rides out in
        // a Result instead.
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                try parse(buffer, maxDepth: maxDepth)
            }
        }
        return try result.get()
    }

    /// Parses one JSON text from a string.
    public static func parse(
        _ text: String, maxDepth: Int = defaultMaxDepth
    ) throws(JSONParseError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                try parse(buffer, maxDepth: maxDepth)
            }
        }
        return try result.get()
    }
}
