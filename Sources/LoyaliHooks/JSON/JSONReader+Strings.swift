/// Strings: the fast path for unescaped text, escapes, surrogate pairs and UTF-8 validation.
extension JSONReader {
    /// Parses a string starting at its opening quote. Strings without escapes (nearly all of
    /// them) are validated in place and turned into a `String` straight from the input bytes.
    mutating func parseString() throws(JSONParseError) -> String {
        let open = pos
        pos += 1
        let start = pos
        while true {
            // Skip ordinary ASCII eight bytes at a time; stop on the first byte that matters.
            while pos &+ 8 <= end {
                let special = JSONWord.parserSpecial(JSONWord.load(base + pos))
                if special != 0 {
                    pos &+= special.trailingZeroBitCount &>> 3
                    break
                }
                pos &+= 8
            }
            guard pos < end else { break }
            let byte = base[pos]
            if byte == JSONByte.quote {
                let s = text(start, pos)
                pos += 1
                return s
            } else if byte == JSONByte.backslash {
                return try parseEscapedString(open: open, start: start)
            } else if byte >= 0x80 {
                pos += try validateUTF8Sequence(at: pos)
            } else if byte < 0x20 {
                throw controlCharacter(byte)
            } else {
                // Only reached in the last few bytes of the input, where a whole word is not left.
                pos += 1
            }
        }
        throw error(at: open, "unterminated string")
    }

    /// The slow path: copies the string into `scratch`, decoding escapes as it goes. `pos` is at
    /// the first backslash; `start` is just after the opening quote.
    mutating func parseEscapedString(open: Int, start: Int) throws(JSONParseError) -> String {
        let out: UnsafeMutablePointer<UInt8>
        if let scratch {
            out = scratch
        } else {
            out = .allocate(capacity: end)
            scratch = out
        }
        var written = pos - start
        out.update(from: base + start, count: written)
        while pos < end {
            let byte = base[pos]
            if byte == JSONByte.quote {
                pos += 1
                return Self.makeString(out, count: written)
            } else if byte == JSONByte.backslash {
                guard pos + 1 < end else { break }
                let escaped = base[pos + 1]
                let decoded: UInt8
                switch escaped {
                case JSONByte.quote, JSONByte.backslash, 0x2F: decoded = escaped  // \" \\ \/
                case 0x62: decoded = 0x08  // \b
                case 0x66: decoded = 0x0C  // \f
                case 0x6E: decoded = 0x0A  // \n
                case 0x72: decoded = 0x0D  // \r
                case 0x74: decoded = 0x09  // \t
                case 0x75:  // \u
                    let scalar = try parseUnicodeEscape()
                    written += Self.encodeUTF8(scalar, into: out + written)
                    continue
                default:
                    throw invalidEscape(at: pos)
                }
                out[written] = decoded
                written += 1
                pos += 2
            } else if byte >= 0x80 {
                let length = try validateUTF8Sequence(at: pos)
                (out + written).update(from: base + pos, count: length)
                written += length
                pos += length
            } else if byte < 0x20 {
                throw controlCharacter(byte)
            } else {
                out[written] = byte
                written += 1
                pos += 1
            }
        }
        throw error(at: open, "unterminated string")
    }

    /// Decodes `\uXXXX` at `pos` (combining a surrogate pair written as two escapes) and moves
    /// past it.
    mutating func parseUnicodeEscape() throws(JSONParseError) -> UInt32 {
        let first = try hexQuad(at: pos + 2)
        if first < 0xD800 || first > 0xDFFF {
            pos += 6
            return first
        }
        if first >= 0xDC00 {
            throw error(
                at: pos, "lone surrogate \(escapeText(first)) (low surrogate without a high one)")
        }
        // A high surrogate must be followed immediately by an escaped low surrogate.
        let next = pos + 6
        guard next + 1 < end, base[next] == JSONByte.backslash, base[next + 1] == 0x75 else {
            throw loneHighSurrogate(first)
        }
        let second = try hexQuad(at: next + 2)
        guard second >= 0xDC00 && second <= 0xDFFF else {
            throw loneHighSurrogate(first)
        }
        pos += 12
        return 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
    }

    /// The value of four hex digits at `at`, which is just after a `\u`.
    func hexQuad(at index: Int) throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for i in index..<index + 4 {
            guard i < end else {
                throw error(at: index - 2, "incomplete \\u escape at end of input")
            }
            let byte = base[i]
            let digit: UInt8
            switch byte {
            case JSONByte.zero...JSONByte.nine: digit = byte - JSONByte.zero
            case 0x61...0x66: digit = byte - 0x61 + 10
            case 0x41...0x46: digit = byte - 0x41 + 10
            default:
                throw error(at: index - 2, "invalid \\u escape; expected 4 hex digits")
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Checks the multi-byte UTF-8 sequence whose lead byte is at `index` and returns its length.
    /// The ranges are those of the Unicode standard's table of well-formed sequences (Table 3-7).
    @inline(__always)
    func validateUTF8Sequence(at index: Int) throws(JSONParseError) -> Int {
        let lead = base[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default:
            throw invalidUTF8Lead(lead, at: index)
        }
        guard index + 1 < end else {
            throw error(at: index, "invalid UTF-8: truncated multi-byte sequence")
        }
        let second = base[index + 1]
        if second < low || second > high {
            if second >= 0x80 && second <= 0xBF {
                // A continuation byte, but outside the range this lead allows.
                if lead == 0xED {
                    throw error(at: index, "invalid UTF-8: surrogate code point encoded in UTF-8")
                }
                if lead == 0xF4 {
                    throw error(at: index, "invalid UTF-8: code point above U+10FFFF")
                }
                throw error(at: index, "invalid UTF-8: overlong encoding")
            }
            throw error(at: index, "invalid UTF-8: truncated multi-byte sequence")
        }
        var i = 2
        while i < length {
            guard index + i < end, base[index + i] & 0xC0 == 0x80 else {
                throw error(at: index, "invalid UTF-8: truncated multi-byte sequence")
            }
            i += 1
        }
        return length
    }

    /// Writes `scalar` as UTF-8 at `out` and returns the number of bytes written.
    @inline(__always)
    static func encodeUTF8(_ scalar: UInt32, into out: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case 0..<0x80:
            out[0] = UInt8(truncatingIfNeeded: scalar)
            return 1
        case 0x80..<0x800:
            out[0] = UInt8(truncatingIfNeeded: 0xC0 | scalar >> 6)
            out[1] = UInt8(truncatingIfNeeded: 0x80 | scalar & 0x3F)
            return 2
        case 0x800..<0x10000:
            out[0] = UInt8(truncatingIfNeeded: 0xE0 | scalar >> 12)
            out[1] = UInt8(truncatingIfNeeded: 0x80 | scalar >> 6 & 0x3F)
            out[2] = UInt8(truncatingIfNeeded: 0x80 | scalar & 0x3F)
            return 3
        default:
            out[0] = UInt8(truncatingIfNeeded: 0xF0 | scalar >> 18)
            out[1] = UInt8(truncatingIfNeeded: 0x80 | scalar >> 12 & 0x3F)
            out[2] = UInt8(truncatingIfNeeded: 0x80 | scalar >> 6 & 0x3F)
            out[3] = UInt8(truncatingIfNeeded: 0x80 | scalar & 0x3F)
            return 4
        }
    }

    /// A string from `count` bytes of well-formed UTF-8.
    ///
    /// Two standard-library paths, chosen by measurement on short event strings. Up to 15 bytes
    /// (inline small strings: most keys and numbers) `String(decoding:as:)` is faster, because the
    /// alternative copies with `memcpy` and then reads the bytes back as words, which stalls on store
    /// forwarding. Longer strings are copied straight into their new heap storage.
    @inline(__always)
    static func makeString(_ source: UnsafePointer<UInt8>, count: Int) -> String {
        guard count > 15 else {
            return String(decoding: UnsafeBufferPointer(start: source, count: count), as: UTF8.self)
        }
        return String(unsafeUninitializedCapacity: count) { buffer in
            buffer.baseAddress!.update(from: source, count: count)
            return count
        }
    }
}
