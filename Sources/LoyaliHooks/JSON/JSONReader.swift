/// The parsing state for one document.
///
/// Children of the containers currently being parsed are kept on two manually managed stacks
/// (values and object members) and moved into an exactly sized array when their container
/// closes. That costs one allocation per container and no retain/release traffic, where growing
/// an array per container would reallocate several times for a typical ten-member object.
/// The type is non-copyable so that `deinit` can free those stacks on every exit path, including
/// a thrown error halfway through a document.
struct JSONReader: ~Copyable {
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
        case JSONByte.quote:
            return .string(try parseString())
        case JSONByte.openBrace:
            return try parseObject()
        case JSONByte.openBracket:
            return try parseArray()
        case JSONByte.minus, JSONByte.zero...JSONByte.nine:
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
        if pos < end && base[pos] == JSONByte.closeBracket {
            pos += 1
            depth -= 1
            return .array([])
        }
        let start = valueCount
        // Counted here: after a failure inside an element, nested containers may have left
        // values on the stack, so `valueCount - start` would be off.
        var index = 0
        while true {
            let element: JSONValue
            do {
                element = try parseValue()
            } catch {
                throw error.inside(index: index)
            }
            pushValue(element)
            index &+= 1
            skipWhitespace()
            guard pos < end else {
                throw error(
                    at: pos, "unexpected end of input; expected ',' or ']' after array element")
            }
            let byte = base[pos]
            if byte == JSONByte.comma {
                pos += 1
                skipWhitespace()
                if pos < end && base[pos] == JSONByte.closeBracket {
                    throw error(at: pos, "trailing comma before ']'")
                }
            } else if byte == JSONByte.closeBracket {
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
        if pos < end && base[pos] == JSONByte.closeBrace {
            pos += 1
            depth -= 1
            return .object(JSONObject())
        }
        let start = memberCount
        var afterComma = false
        // Keys seen so far, built only for objects too large for a linear scan to stay cheap.
        var seenKeys: Set<String>?
        while true {
            guard pos < end, base[pos] == JSONByte.quote else {
                throw badKeyStart(afterComma: afterComma)
            }
            let keyStart = pos
            let key = try parseString()
            try checkUniqueKey(key, at: keyStart, from: start, seen: &seenKeys)
            skipWhitespace()
            guard pos < end, base[pos] == JSONByte.colon else {
                throw error(
                    at: pos,
                    pos < end
                        ? "expected ':' after object key"
                        : "unexpected end of input; expected ':' after object key")
            }
            pos += 1
            let value: JSONValue
            do {
                value = try parseValue()
            } catch {
                throw error.inside(key: key)
            }
            pushMember(JSONObject.Member(key: key, value: value))
            skipWhitespace()
            guard pos < end else {
                throw error(
                    at: pos, "unexpected end of input; expected ',' or '}' after object member")
            }
            let byte = base[pos]
            if byte == JSONByte.comma {
                pos += 1
                skipWhitespace()
                afterComma = true
            } else if byte == JSONByte.closeBrace {
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

    /// Refuses a key the object already has: I-JSON (RFC 7493 §2.3) forbids duplicates, and a
    /// duplicate is how a redacted field could travel on in clear (`redact` and `remove` see one
    /// copy, a receiver may read the other). Small objects, the common case, are scanned without
    /// allocating; past `linearScanLimit` keys a set takes over. Keys compare as Swift strings
    /// do (canonical equivalence), which is also how ``JSONObject`` looks keys up, so no two keys
    /// that one lookup could confuse survive.
    @inline(__always)
    mutating func checkUniqueKey(
        _ key: String, at keyStart: Int, from start: Int, seen: inout Set<String>?
    ) throws(JSONParseError) {
        let count = memberCount - start
        if count == 0 { return }
        if count < Self.linearScanLimit {
            for i in start..<memberCount where members[i].key == key {
                throw duplicateKey(key, at: keyStart)
            }
            return
        }
        if seen == nil {
            var keys = Set<String>(minimumCapacity: count * 2)
            for i in start..<memberCount { keys.insert(members[i].key) }
            seen = keys
        }
        if !seen!.insert(key).inserted { throw duplicateKey(key, at: keyStart) }
    }

    /// Objects with fewer members than this are checked for duplicates by a linear scan.
    static let linearScanLimit = 16

    // MARK: Numbers

    /// Validates `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` and keeps the text.
    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = pos
        if base[pos] == JSONByte.minus {
            pos += 1
            guard pos < end, isDigit(base[pos]) else {
                throw error(at: pos, "expected a digit after '-'")
            }
        }
        if base[pos] == JSONByte.zero {
            pos += 1
            if pos < end && isDigit(base[pos]) {
                throw error(at: pos - 1, "leading zeros are not allowed")
            }
        } else {
            pos += 1
            while pos < end && isDigit(base[pos]) { pos += 1 }
        }
        if pos < end && base[pos] == JSONByte.dot {
            pos += 1
            guard pos < end, isDigit(base[pos]) else {
                throw error(at: pos, "expected a digit after the decimal point")
            }
            pos += 1
            while pos < end && isDigit(base[pos]) { pos += 1 }
        }
        if pos < end && (base[pos] | 0x20) == JSONByte.lowerE {
            pos += 1
            if pos < end && (base[pos] == JSONByte.plus || base[pos] == JSONByte.minus) { pos += 1 }
            guard pos < end, isDigit(base[pos]) else {
                throw error(at: pos, "expected a digit in the exponent")
            }
            pos += 1
            while pos < end && isDigit(base[pos]) { pos += 1 }
        }
        return JSONNumber(literal: text(start, pos))
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
        return Self.makeString(base + from, count: count)
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- JSONByte.zero <= 9 }

    @inline(__always)
    func isWordByte(_ byte: UInt8) -> Bool {
        (byte | 0x20) &- 0x61 < 26 || byte &- JSONByte.zero <= 9 || byte == 0x5F
    }
}
