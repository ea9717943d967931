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
        var s = s
        // `withUTF8` gives contiguous bytes for native and small strings without copying; only a
        // bridged string is made native first.
        s.withUTF8 { source in
            let length = source.count
            out.append(0x22)
            // Append runs that need no escaping in one go, found eight bytes at a time.
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
                var escape: (UInt64, UInt64) = (0, 0)
                let escapeLength = withUnsafeMutableBytes(of: &escape) { raw in
                    writeEscape(for: byte, at: raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
                withUnsafeBytes(of: escape) { raw in
                    out.append(contentsOf: raw.prefix(escapeLength))
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
}
