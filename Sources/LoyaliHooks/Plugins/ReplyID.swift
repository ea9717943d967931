/// Finds the `id` of a plugin's reply line without decoding the rest of it.
///
/// The reader threads only need the id to route a reply to its request; the full decode happens
/// on the thread that applies the reply, which also frees it, so the memory of a reply is
/// allocated and released by one thread.
enum ReplyID {
    /// The top-level `"id"` of `line` when it is a JSON object whose `id` member is an integer;
    /// `nil` for anything else (not an object, no `id`, a non-integer `id`, a broken structure
    /// before the `id`).
    static func find(in line: UnsafeBufferPointer<UInt8>) -> Int? {
        var scanner = Scanner(bytes: line)
        scanner.skipSpace()
        guard scanner.take(UInt8(ascii: "{")) else { return nil }
        while true {
            scanner.skipSpace()
            guard let key = scanner.string() else { return nil }
            scanner.skipSpace()
            guard scanner.take(UInt8(ascii: ":")) else { return nil }
            scanner.skipSpace()
            if key.count == 2, key[key.startIndex] == UInt8(ascii: "i"), key[key.startIndex + 1] == UInt8(ascii: "d") {
                return scanner.integer()
            }
            guard scanner.skipValue() else { return nil }
            scanner.skipSpace()
            guard scanner.take(UInt8(ascii: ",")) else { return nil }
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard current == byte else { return false }
            index += 1
            return true
        }

        /// A string's raw bytes between its quotes (escapes left as written).
        mutating func string() -> Slice<UnsafeBufferPointer<UInt8>>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while let byte = current {
                if byte == UInt8(ascii: "\\") {
                    index += 2
                    continue
                }
                if byte == UInt8(ascii: "\"") {
                    defer { index += 1 }
                    return bytes[start..<index]
                }
                index += 1
            }
            return nil
        }

        /// An integer that ends the member (followed by space, `,` or `}`).
        mutating func integer() -> Int? {
            var negative = false
            if take(UInt8(ascii: "-")) { negative = true }
            var value = 0
            var digits = 0
            while let byte = current, byte >= 0x30, byte <= 0x39 {
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int(byte - 0x30))
                guard !overflow1, !overflow2 else { return nil }
                value = sum
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            skipSpace()
            guard current == UInt8(ascii: ",") || current == UInt8(ascii: "}") else { return nil }
            return negative ? -value : value
        }

        /// Skips one value: a string, or a nested object or array, or a bare literal.
        mutating func skipValue() -> Bool {
            guard let first = current else { return false }
            if first == UInt8(ascii: "\"") { return string() != nil }
            if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                var depth = 0
                while let byte = current {
                    switch byte {
                    case UInt8(ascii: "\""):
                        guard string() != nil else { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            return true
                        }
                    default:
                        break
                    }
                    index += 1
                }
                return false
            }
            while let byte = current, byte != UInt8(ascii: ","), byte != UInt8(ascii: "}") { index += 1 }
            return index > 0
        }
    }
}
