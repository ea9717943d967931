/// A strict RFC 8259 JSON parser that produces exact, ordered ``JSONValue``s.
///
/// - Whitespace is only space, tab, CR and LF; a UTF-8 byte order mark is rejected.
/// - Numbers are checked against the JSON grammar and kept as their literal text, so `1E400`,
///   `12.50` and `1000000000000` survive a round trip exactly as written.
/// - Strings must be valid UTF-8 (no overlongs, no encoded surrogates, nothing above U+10FFFF),
///   may not contain raw control characters, and may not carry lone `\u` surrogates.
/// - Duplicate keys are kept, in order (``JSONObject``'s subscript reads the last one).
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

// ASCII bytes the grammar cares about.
private let quote: UInt8 = 0x22  // "
private let backslash: UInt8 = 0x5C  // \
private let comma: UInt8 = 0x2C  // ,
private let colon: UInt8 = 0x3A  // :
private let openBracket: UInt8 = 0x5B  // [
private let closeBracket: UInt8 = 0x5D  // ]
private let openBrace: UInt8 = 0x7B  // {
private let closeBrace: UInt8 = 0x7D  // }
private let minus: UInt8 = 0x2D  // -
private let plus: UInt8 = 0x2B  // +
private let dot: UInt8 = 0x2E  // .
private let zero: UInt8 = 0x30  // 0
private let nine: UInt8 = 0x39  // 9
private let lowerE: UInt8 = 0x65  // e

/// The parsing state for one document.
///
/// Children of the containers currently being parsed are kept on two manually managed stacks
/// (values and object members) and moved into an exactly sized array when their container
/// closes. That costs one allocation per container and no retain/release traffic, where growing
/// an array per container would reallocate several times for a typical ten-member object.
/// The type is non-copyable so that `deinit` can free those stacks on every exit path, including
/// a thrown error halfway through a document.
private struct JSONReader: ~Copyable {
    let base: UnsafePointer<UInt8>
    let end: Int
    let maxDepth: Int
    var pos = 0
    var depth = 0

    var values: UnsafeMutablePointer<JSONValue>
    var valueCount = 0
    var valueCapacity = 0

    var members: UnsafeMutablePointer<JSONObject.Member>
    var memberCount = 0
    var memberCapacity = 0

    /// Where unescaped string bytes are assembled; allocated at the first escape and sized to the
    /// whole input, which bounds any unescaped string.
    var scratch: UnsafeMutablePointer<UInt8>?

    init(base: UnsafePointer<UInt8>, count: Int, maxDepth: Int) {
        self.base = base
        self.end = count
        self.maxDepth = maxDepth
        // Start with small stacks; `grow` doubles them for large documents.
        valueCapacity = 16
        values = .allocate(capacity: valueCapacity)
        memberCapacity = 16
        members = .allocate(capacity: memberCapacity)
    }

    deinit {
        values.deinitialize(count: valueCount)
        values.deallocate()
        members.deinitialize(count: memberCount)
        members.deallocate()
        scratch?.deallocate()
    }

    // MARK: Document

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if end >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF {
            throw error(at: 0, "byte order mark (U+FEFF) is not allowed before JSON text")
        }
        let value = try parseValue()
        skipWhitespace()
        if pos < end {
            throw error(at: pos, "trailing data after JSON value")
        }
        return value
    }

    // MARK: Values

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            let byte = base[pos]
            // Every structural byte is above 0x20, so one compare usually settles it.
            if byte > 0x20 { return }
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            pos += 1
        }
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard pos < end else {
            throw error(at: pos, "unexpected end of input; expected a value")
        }
        switch base[pos] {
        case quote:
            return .string(try parseString())
        case openBrace:
            return try parseObject()
        case openBracket:
            return try parseArray()
        case minus, zero...nine:
            return .number(try parseNumber())
        case 0x61...0x7A, 0x41...0x5A:  // a-z, A-Z
            return try parseLiteral()
        default:
            throw unexpectedValueStart()
        }
    }

    mutating func parseArray() throws(JSONParseError) -> JSONValue {
        let open = pos
        depth += 1
        if depth > maxDepth { throw error(at: open, "nesting deeper than \(maxDepth) levels") }
        pos += 1
        skipWhitespace()
        if pos < end && base[pos] == closeBracket {
            pos += 1
            depth -= 1
            return .array([])
        }
        let start = valueCount
        while true {
            let element = try parseValue()
            pushValue(element)
            skipWhitespace()
            guard pos < end else {
                throw error(
                    at: pos, "unexpected end of input; expected ',' or ']' after array element")
            }
            let byte = base[pos]
            if byte == comma {
                pos += 1
                skipWhitespace()
                if pos < end && base[pos] == closeBracket {
                    throw error(at: pos, "trailing comma before ']'")
                }
            } else if byte == closeBracket {
                pos += 1
                break
            } else {
                throw error(at: pos, "expected ',' or ']' after array element")
            }
        }
        depth -= 1
        return .array(popValues(from: start))
    }

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        let open = pos
        depth += 1
        if depth > maxDepth { throw error(at: open, "nesting deeper than \(maxDepth) levels") }
        pos += 1
        skipWhitespace()
        if pos < end && base[pos] == closeBrace {
            pos += 1
            depth -= 1
            return .object(JSONObject())
        }
        let start = memberCount
        var afterComma = false
        while true {
            guard pos < end, base[pos] == quote else {
                throw badKeyStart(afterComma: afterComma)
            }
            let key = try parseString()
            skipWhitespace()
            guard pos < end, base[pos] == colon else {
                throw error(
                    at: pos,
                    pos < end
                        ? "expected ':' after object key"
                        : "unexpected end of input; expected ':' after object key")
            }
            pos += 1
            let value = try parseValue()
            pushMember(JSONObject.Member(key: key, value: value))
            skipWhitespace()
            guard pos < end else {
                throw error(
                    at: pos, "unexpected end of input; expected ',' or '}' after object member")
            }
            let byte = base[pos]
            if byte == comma {
                pos += 1
                skipWhitespace()
                afterComma = true
            } else if byte == closeBrace {
                pos += 1
                break
            } else {
                throw error(at: pos, "expected ',' or '}' after object member")
            }
        }
        depth -= 1
        return .object(JSONObject(popMembers(from: start)))
    }

    /// `true`, `false` or `null`. The whole alphanumeric word is read so that `nul`, `True` or
    /// `truex` are reported as one bad word rather than as a confusing structural error.
    mutating func parseLiteral() throws(JSONParseError) -> JSONValue {
        let start = pos
        while pos < end, isWordByte(base[pos]) { pos += 1 }
        let length = pos - start
        let p = base + start
        if length == 4 {
            if p[0] == 0x74 && p[1] == 0x72 && p[2] == 0x75 && p[3] == 0x65 { return .bool(true) }
            if p[0] == 0x6E && p[1] == 0x75 && p[2] == 0x6C && p[3] == 0x6C { return .null }
        } else if length == 5 {
            if p[0] == 0x66 && p[1] == 0x61 && p[2] == 0x6C && p[3] == 0x73 && p[4] == 0x65 {
                return .bool(false)
            }
        }
        let shown = length > 24 ? text(start, start + 24) + "…" : text(start, pos)
        throw error(
            at: start, "invalid literal '\(shown)'; expected a value such as true, false or null")
    }

    // MARK: Numbers

    /// Validates `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` and keeps the text.
    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = pos
        if base[pos] == minus {
            pos += 1
            guard pos < end, isDigit(base[pos]) else {
                throw error(at: pos, "expected a digit after '-'")
            }
        }
        if base[pos] == zero {
            pos += 1
            if pos < end && isDigit(base[pos]) {
                throw error(at: pos - 1, "leading zeros are not allowed")
            }
        } else {
            pos += 1
            while pos < end && isDigit(base[pos]) { pos += 1 }
        }
        if pos < end && base[pos] == dot {
            pos += 1
            guard pos < end, isDigit(base[pos]) else {
                throw error(at: pos, "expected a digit after the decimal point")
            }
            pos += 1
            while pos < end && isDigit(base[pos]) { pos += 1 }
        }
        if pos < end && (base[pos] | 0x20) == lowerE {
            pos += 1
            if pos < end && (base[pos] == plus || base[pos] == minus) { pos += 1 }
            guard pos < end, isDigit(base[pos]) else {
                throw error(at: pos, "expected a digit in the exponent")
            }
            pos += 1
            while pos < end && isDigit(base[pos]) { pos += 1 }
        }
        return JSONNumber(literal: text(start, pos))
    }

    // MARK: Strings

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
            if byte == quote {
                let s = text(start, pos)
                pos += 1
                return s
            } else if byte == backslash {
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
            if byte == quote {
                pos += 1
                return makeString(out, count: written)
            } else if byte == backslash {
                guard pos + 1 < end else { break }
                let escaped = base[pos + 1]
                let decoded: UInt8
                switch escaped {
                case quote, backslash, 0x2F: decoded = escaped  // \" \\ \/
                case 0x62: decoded = 0x08  // \b
                case 0x66: decoded = 0x0C  // \f
                case 0x6E: decoded = 0x0A  // \n
                case 0x72: decoded = 0x0D  // \r
                case 0x74: decoded = 0x09  // \t
                case 0x75:  // \u
                    let scalar = try parseUnicodeEscape()
                    written += encodeUTF8(scalar, into: out + written)
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
        guard next + 1 < end, base[next] == backslash, base[next + 1] == 0x75 else {
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
            case zero...nine: digit = byte - zero
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

    // MARK: Stacks

    @inline(__always)
    mutating func pushValue(_ value: consuming JSONValue) {
        if valueCount == valueCapacity { growValues() }
        (values + valueCount).initialize(to: value)
        valueCount += 1
    }

    mutating func growValues() {
        let newCapacity = valueCapacity * 2
        let grown = UnsafeMutablePointer<JSONValue>.allocate(capacity: newCapacity)
        grown.moveInitialize(from: values, count: valueCount)
        values.deallocate()
        values = grown
        valueCapacity = newCapacity
    }

    /// Moves the values from `start` to the top of the stack into a new, exactly sized array.
    ///
    /// `reserveCapacity` plus `append` rather than `Array(unsafeUninitializedCapacity:)`: the
    /// latter allocates through an unspecialized standard-library entry point that looks up the
    /// array's type metadata at run time on every call, which showed up at ~8% of parse time.
    @inline(__always)
    mutating func popValues(from start: Int) -> [JSONValue] {
        let count = valueCount - start
        var array: [JSONValue] = []
        array.reserveCapacity(count)
        for i in start..<valueCount {
            array.append((values + i).move())
        }
        valueCount = start
        return array
    }

    @inline(__always)
    mutating func pushMember(_ member: consuming JSONObject.Member) {
        if memberCount == memberCapacity { growMembers() }
        (members + memberCount).initialize(to: member)
        memberCount += 1
    }

    mutating func growMembers() {
        let newCapacity = memberCapacity * 2
        let grown = UnsafeMutablePointer<JSONObject.Member>.allocate(capacity: newCapacity)
        grown.moveInitialize(from: members, count: memberCount)
        members.deallocate()
        members = grown
        memberCapacity = newCapacity
    }

    /// Like `popValues`, for object members.
    @inline(__always)
    mutating func popMembers(from start: Int) -> [JSONObject.Member] {
        let count = memberCount - start
        var array: [JSONObject.Member] = []
        array.reserveCapacity(count)
        for i in start..<memberCount {
            array.append((members + i).move())
        }
        memberCount = start
        return array
    }

    // MARK: Helpers

    /// The input bytes `from..<to` as a string. The caller has already validated them as UTF-8.
    @inline(__always)
    func text(_ from: Int, _ to: Int) -> String {
        let count = to &- from
        return makeString(base + from, count: count)
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- zero <= 9 }

    @inline(__always)
    func isWordByte(_ byte: UInt8) -> Bool {
        (byte | 0x20) &- 0x61 < 26 || byte &- zero <= 9 || byte == 0x5F
    }

    // MARK: Errors (kept out of line so the hot path stays small)

    @inline(never)
    func error(at offset: Int, _ reason: String) -> JSONParseError {
        JSONParseError(
            offset: offset, in: UnsafeBufferPointer(start: base, count: end), reason: reason)
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
        case plus:
            return error(at: pos, "numbers cannot start with '+'")
        case dot:
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
        if afterComma && byte == closeBrace {
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

/// Writes `scalar` as UTF-8 at `out` and returns the number of bytes written.
@inline(__always)
private func encodeUTF8(_ scalar: UInt32, into out: UnsafeMutablePointer<UInt8>) -> Int {
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
private func makeString(_ source: UnsafePointer<UInt8>, count: Int) -> String {
    guard count > 15 else {
        return String(decoding: UnsafeBufferPointer(start: source, count: count), as: UTF8.self)
    }
    return String(unsafeUninitializedCapacity: count) { buffer in
        buffer.baseAddress!.update(from: source, count: count)
        return count
    }
}
