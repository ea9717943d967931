/// The errors, kept out of line so the parser's hot path stays small: each builds its message
/// only once parsing has already failed.
extension JSONReader {
    @inline(never)
    func error(at offset: Int, _ reason: String) -> JSONParseError {
        JSONParseError(
            offset: offset, in: UnsafeBufferPointer(start: base, count: end), reason: reason)
    }

    @inline(never)
    func duplicateKey(_ key: String, at offset: Int) -> JSONParseError {
        JSONParseError(duplicateKey: key, offset: offset, in: UnsafeBufferPointer(start: base, count: end))
    }

    @inline(never)
    func controlCharacter(_ byte: UInt8) -> JSONParseError {
        error(
            at: pos, "control character \(scalarName(UInt32(byte))) in string; it must be escaped")
    }

    @inline(never)
    func loneHighSurrogate(_ value: UInt32) -> JSONParseError {
        error(at: pos, "lone surrogate \(escapeText(value)) (not followed by a low surrogate)")
    }

    @inline(never)
    func invalidEscape(at index: Int) -> JSONParseError {
        let byte = base[index + 1]
        if byte >= 0x21 && byte < 0x7F {
            return error(at: index, "invalid escape '\\\(Character(Unicode.Scalar(byte)))'")
        }
        if byte >= 0x80 {
            if let scalar = decodeScalar(at: index + 1) {
                return error(at: index, "invalid escape '\\\(Character(scalar))'")
            }
            return error(at: index + 1, "invalid UTF-8 after '\\'")
        }
        return error(at: index, "invalid escape: '\\' followed by \(scalarName(UInt32(byte)))")
    }

    @inline(never)
    func invalidUTF8Lead(_ lead: UInt8, at index: Int) -> JSONParseError {
        switch lead {
        case 0x80...0xBF:
            return error(at: index, "invalid UTF-8: unexpected continuation byte 0x\(hex2(lead))")
        case 0xC0, 0xC1:
            return error(at: index, "invalid UTF-8: overlong encoding")
        case 0xF5...0xF7:
            return error(at: index, "invalid UTF-8: code point above U+10FFFF")
        default:
            return error(at: index, "invalid UTF-8: byte 0x\(hex2(lead)) never appears in UTF-8")
        }
    }

    /// Explains a byte that cannot start a value.
    @inline(never)
    func unexpectedValueStart() -> JSONParseError {
        let byte = base[pos]
        switch byte {
        case JSONByte.plus:
            return error(at: pos, "numbers cannot start with '+'")
        case JSONByte.dot:
            return error(at: pos, "numbers need a digit before the decimal point")
        case 0x27:
            return error(at: pos, "strings must use double quotes, not single quotes")
        case 0x2F:
            return error(at: pos, "comments are not allowed in JSON")
        case 0x20...0x7E:
            return error(at: pos, "expected a value, found '\(Character(Unicode.Scalar(byte)))'")
        case 0x80...:
            if let scalar = decodeScalar(at: pos) {
                return error(at: pos, "expected a value, found \(scalarName(scalar.value))")
            }
            do {
                _ = try validateUTF8Sequence(at: pos)
            } catch {
                return error
            }
            return error(at: pos, "invalid UTF-8")
        default:
            return error(at: pos, "expected a value, found \(scalarName(UInt32(byte)))")
        }
    }

    @inline(never)
    func badKeyStart(afterComma: Bool) -> JSONParseError {
        guard pos < end else {
            return error(at: pos, "unexpected end of input; expected a string key")
        }
        let byte = base[pos]
        if afterComma && byte == JSONByte.closeBrace {
            return error(at: pos, "trailing comma before '}'")
        }
        if byte == 0x27 {
            return error(at: pos, "object keys must use double quotes, not single quotes")
        }
        return error(
            at: pos,
            afterComma ? "expected a string key after ','" : "expected a string key or '}'")
    }

    /// The scalar encoded at `index` when it is well-formed UTF-8.
    func decodeScalar(at index: Int) -> Unicode.Scalar? {
        if base[index] < 0x80 { return Unicode.Scalar(base[index]) }
        guard (try? validateUTF8Sequence(at: index)) != nil else { return nil }
        var iterator = UnsafeBufferPointer(start: base + index, count: end - index).makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let scalar) = decoder.decode(&iterator) { return scalar }
        return nil
    }

    /// `\uxxxx` in lowercase, the way a surrogate is quoted in messages.
    func escapeText(_ value: UInt32) -> String {
        "\\u" + String(repeating: "0", count: 4 - String(value, radix: 16).count)
            + String(value, radix: 16)
    }

    func scalarName(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    func hex2(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return digits.count == 1 ? "0" + digits : digits
    }
}
