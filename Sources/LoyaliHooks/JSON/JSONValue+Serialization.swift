/// Writing ``JSONValue``s back out as JSON text.
///
/// Compact output is byte-for-byte what Python's
/// `json.dumps(value, separators=(",", ":"), ensure_ascii=False)` produces for the same value:
/// `"`, `\` and control characters are escaped (`\b \f \n \r \t`, otherwise `\u00xx` in lowercase
/// hex); everything else, including `/`, non-ASCII text, U+2028 and U+2029, is written as raw
/// UTF-8. Numbers are written exactly as their literal, and members in their stored order, so a
/// parsed body re-serializes to the same bytes receivers verify signatures over.
extension JSONValue {
    /// Appends the compact JSON text of this value to `out`.
    public func serialize(into out: inout [UInt8]) {
        var writer = JSONByteWriter()
        writer.write(self)
        out.append(contentsOf: writer.bytes)
    }

    /// The compact JSON text of this value as UTF-8 bytes.
    public var serializedBytes: [UInt8] {
        var writer = JSONByteWriter()
        writer.write(self)
        return Array(writer.bytes)
    }

    /// The compact JSON text of this value.
    public var serializedString: String {
        var writer = JSONByteWriter()
        writer.write(self)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Indented JSON text, laid out like Python's `json.dumps(value, indent=indent,
    /// ensure_ascii=False)`: one member or element per line, `"key": value`, and `{}` / `[]` for
    /// empty containers. An `indent` of 0 or less still breaks lines but does not indent them.
    public func prettyPrinted(indent: Int = 2) -> String {
        var writer = JSONByteWriter(capacity: 1024)
        writer.writePretty(self, indent: max(0, indent), level: 0)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Appends `s` to `out` as a quoted JSON string, escaped exactly like the compact serializer
    /// does (see the type's documentation). Other code writing JSON by hand should use this.
    public static func appendJSONString(_ s: String, to out: inout [UInt8]) {
        // Native and small strings are contiguous; only a bridged string is copied first.
        if s.utf8.withContiguousStorageIfAvailable({ appendQuoted(utf8: $0, to: &out) }) == nil {
            var s = s
            s.withUTF8 { appendQuoted(utf8: $0, to: &out) }
        }
    }

    /// Appends already-valid UTF-8 bytes as a quoted JSON string, escaped like
    /// ``appendJSONString(_:to:)``, without making a `String` first (dry-run output embeds every
    /// signed body this way).
    public static func appendJSONString(utf8 bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        appendQuoted(utf8: bytes, to: &out)
    }

    private static func appendQuoted(
        utf8 source: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]
    ) {
        out.append(0x22)
        // Runs that need no escaping, found eight bytes at a time, are appended in one go.
        let length = source.count
        var runStart = 0
        var i = 0
        while i < length {
            if i &+ 8 <= length {
                let special = JSONWord.needsEscape(JSONWord.load(source.baseAddress! + i))
                if special == 0 {
                    i &+= 8
                    continue
                }
                i &+= special.trailingZeroBitCount &>> 3
            }
            let byte = source[i]
            if byte >= 0x20 && byte != 0x22 && byte != 0x5C {
                i &+= 1
                continue
            }
            if runStart < i {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<i]))
            }
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 6) { escape in
                let escapeLength = JSONByteWriter.writeEscape(for: byte, at: escape.baseAddress!)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: escape[..<escapeLength]))
            }
            i &+= 1
            runStart = i
        }
        if runStart < length {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<length]))
        }
        out.append(0x22)
    }
}
