/// A growable byte buffer that JSON text is written into before it is handed out as `[UInt8]`
/// or `String`.
///
/// Writing through a raw pointer costs one capacity check per string or token. Appending to an
/// `[UInt8]` directly re-checks uniqueness and capacity on every call, which measured slower
/// than the final copy out of this buffer. Non-copyable so `deinit` frees the memory exactly once.
struct JSONByteWriter: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 512) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The bytes written so far; valid until the next write.
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if capacity &- count < extra { grow(extra) }
    }

    @inline(never)
    private mutating func grow(_ extra: Int) {
        let newCapacity = max(capacity * 2, count + extra)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count &+= 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        reserve(bytes.count)
        (base + count).update(from: source, count: bytes.count)
        count &+= bytes.count
    }

    /// Appends a literal known at compile time (`null`, `true`, …).
    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends the raw UTF-8 of `text`.
    @inline(__always)
    mutating func appendRaw(_ text: String) {
        var text = text
        text.withUTF8 { append($0) }
    }

    /// Appends `text` as a quoted, escaped JSON string (the escaping rules are documented on
    /// ``JSONValue/appendJSONString(_:to:)``).
    mutating func appendQuoted(_ text: String) {
        var text = text
        text.withUTF8 { appendQuoted(utf8: $0) }
    }

    mutating func appendQuoted(utf8 source: UnsafeBufferPointer<UInt8>) {
        let length = source.count
        // Room for the worst case (every byte a six-byte \u00XX escape) up front, so the loop
        // below writes without further checks. It also covers the eight-byte stores: they only
        // happen while at least eight input bytes remain, each of which reserved six.
        reserve(length &* 6 &+ 2)
        var out = base + count
        out.pointee = 0x22
        out += 1
        guard let input = source.baseAddress else {
            out.pointee = 0x22
            count = out + 1 - base
            return
        }
        var i = 0
        while i < length {
            if i &+ 8 <= length {
                // Copy eight bytes blindly, then keep only those before the first one that needs
                // escaping; the rest are rewritten on the next turn.
                let word = JSONWord.load(input + i)
                UnsafeMutableRawPointer(out).storeBytes(of: word.littleEndian, as: UInt64.self)
                let special = JSONWord.needsEscape(word)
                if special == 0 {
                    i &+= 8
                    out += 8
                    continue
                }
                let clean = special.trailingZeroBitCount &>> 3
                i &+= clean
                out += clean
            }
            let byte = input[i]
            if byte >= 0x20 && byte != 0x22 && byte != 0x5C {
                out.pointee = byte
                out += 1
            } else {
                out += writeEscape(for: byte, at: out)
            }
            i &+= 1
        }
        out.pointee = 0x22
        count = out + 1 - base
    }

    /// Writes the compact form of `value`.
    mutating func write(_ value: JSONValue) {
        switch value {
        case .null:
            append("null")
        case .bool(let flag):
            append(flag ? "true" : "false")
        case .number(let number):
            appendRaw(number.literal)
        case .string(let string):
            appendQuoted(string)
        case .array(let elements):
            append(0x5B)
            var first = true
            for element in elements {
                if !first { append(0x2C) }
                first = false
                write(element)
            }
            append(0x5D)
        case .object(let object):
            append(0x7B)
            var first = true
            for member in object.members {
                if !first { append(0x2C) }
                first = false
                appendQuoted(member.key)
                append(0x3A)
                write(member.value)
            }
            append(0x7D)
        }
    }

    /// Writes `value` indented like Python's `json.dumps(indent=…)`.
    mutating func writePretty(_ value: JSONValue, indent: Int, level: Int) {
        switch value {
        case .array(let elements) where !elements.isEmpty:
            append(0x5B)
            for (i, element) in elements.enumerated() {
                if i > 0 { append(0x2C) }
                newline(spaces: indent * (level + 1))
                writePretty(element, indent: indent, level: level + 1)
            }
            newline(spaces: indent * level)
            append(0x5D)
        case .object(let object) where !object.members.isEmpty:
            append(0x7B)
            for (i, member) in object.members.enumerated() {
                if i > 0 { append(0x2C) }
                newline(spaces: indent * (level + 1))
                appendQuoted(member.key)
                append(": ")
                writePretty(member.value, indent: indent, level: level + 1)
            }
            newline(spaces: indent * level)
            append(0x7D)
        default:
            // Scalars and empty containers look the same as in compact form.
            write(value)
        }
    }

    private mutating func newline(spaces: Int) {
        reserve(spaces + 1)
        base[count] = 0x0A
        (base + count + 1).initialize(repeating: 0x20, count: spaces)
        count += spaces + 1
    }
}

/// Writes the escape for `byte` (`"`, `\` or a control character) at `out` and returns its
/// length: the short forms Python uses, otherwise `\u00xx` in lowercase hex.
@inline(__always)
func writeEscape(for byte: UInt8, at out: UnsafeMutablePointer<UInt8>) -> Int {
    out[0] = 0x5C
    let short: UInt8
    switch byte {
    case 0x22: short = 0x22  // \"
    case 0x5C: short = 0x5C  // \\
    case 0x08: short = 0x62  // \b
    case 0x0C: short = 0x66  // \f
    case 0x0A: short = 0x6E  // \n
    case 0x0D: short = 0x72  // \r
    case 0x09: short = 0x74  // \t
    default:
        out[1] = 0x75  // u
        out[2] = 0x30
        out[3] = 0x30
        out[4] = hexDigit(byte >> 4)
        out[5] = hexDigit(byte & 0x0F)
        return 6
    }
    out[1] = short
    return 2
}

@inline(__always)
private func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10
}
