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
        // Native and small strings are contiguous; only a bridged string takes the copying path.
        if text.utf8.withContiguousStorageIfAvailable({ append($0) }) == nil {
            var text = text
            text.withUTF8 { append($0) }
        }
    }

    /// Appends `text` as a quoted, escaped JSON string (the escaping rules are documented on
    /// ``JSONValue/appendJSONString(_:to:)``).
    mutating func appendQuoted(_ text: String) {
        if text.utf8.withContiguousStorageIfAvailable({ appendQuoted(utf8: $0) }) == nil {
            var text = text
            text.withUTF8 { appendQuoted(utf8: $0) }
        }
    }

    mutating func appendQuoted(utf8 source: UnsafeBufferPointer<UInt8>) {
        append(0x22)
        if let input = source.baseAddress {
            let length = source.count
            var i = 0
            while i < length {
                // Chunks let the worst case (every byte a six-byte \u00XX escape, plus slack for
                // the eight-byte stores) be reserved up front without reserving six times the
                // size of a long string; inside a chunk the loop writes without further checks.
                let chunkEnd = min(length, i &+ 4096)
                reserve((chunkEnd &- i) &* 6 &+ 8)
                var out = base + count
                while i < chunkEnd {
                    // Eight bytes at a time, stored blindly; only those before the first byte
                    // that needs escaping are kept, the rest are rewritten on the next turn. A
                    // short tail is zero-padded, and a zero byte counts as needing escape, so
                    // the padding always stops the run at the true end.
                    let remaining = chunkEnd &- i
                    let word =
                        remaining >= 8
                        ? JSONWord.load(input + i) : JSONWord.load(input + i, count: remaining)
                    UnsafeMutableRawPointer(out).storeBytes(of: word.littleEndian, as: UInt64.self)
                    let clean = JSONWord.needsEscape(word).trailingZeroBitCount &>> 3
                    i &+= clean
                    out += clean
                    if clean < 8 && i < chunkEnd {
                        out += Self.writeEscape(for: input[i], at: out)
                        i &+= 1
                    }
                }
                count = out - base
            }
        }
        append(0x22)
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
            elements.withUnsafeBufferPointer { elements in
                for i in elements.indices {
                    if i > 0 { append(0x2C) }
                    write(elements[i])
                }
            }
            append(0x5D)
        case .object(let object):
            append(0x7B)
            object.members.withUnsafeBufferPointer { members in
                for i in members.indices {
                    if i > 0 { append(0x2C) }
                    appendQuoted(members[i].key)
                    append(0x3A)
                    write(members[i].value)
                }
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

    /// Writes the escape for `byte` (`"`, `\` or a control character) at `out` and returns its
    /// length: the short forms Python uses, otherwise `\u00xx` in lowercase hex.
    @inline(__always)
    static func writeEscape(for byte: UInt8, at out: UnsafeMutablePointer<UInt8>) -> Int {
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
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10
    }
}
