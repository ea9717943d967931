/// Standard base64 (RFC 4648 §4, `+` and `/`, with `=` padding), used for Standard Webhooks secrets
/// and signatures.
public enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Maps an ASCII byte to its 6-bit value; 0xFF marks bytes outside the alphabet.
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// `bytes` as padded standard base64.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        let count = (input.count + 2) / 3 * 4
        if count == 0 { return "" }
        return String(unsafeUninitializedCapacity: count) { out in
            alphabet.withUnsafeBufferPointer { table in
                var o = 0
                var i = 0
                while i + 3 <= input.count {
                    let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                    out[o] = table[Int(n >> 18 & 63)]
                    out[o + 1] = table[Int(n >> 12 & 63)]
                    out[o + 2] = table[Int(n >> 6 & 63)]
                    out[o + 3] = table[Int(n & 63)]
                    i += 3
                    o += 4
                }
                let rest = input.count - i
                if rest > 0 {
                    let n = UInt32(input[i]) << 16 | (rest == 2 ? UInt32(input[i + 1]) << 8 : 0)
                    out[o] = table[Int(n >> 18 & 63)]
                    out[o + 1] = table[Int(n >> 12 & 63)]
                    out[o + 2] = rest == 2 ? table[Int(n >> 6 & 63)] : UInt8(ascii: "=")
                    out[o + 3] = UInt8(ascii: "=")
                }
            }
            return count
        }
    }

    /// The bytes encoded by `text`, or `nil` unless it is canonical padded base64: a length that is a
    /// multiple of 4, only alphabet characters, `=` only as the last one or two characters, and
    /// zero bits in the unused part of the final character (so each byte string has one spelling).
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        if input.isEmpty { return [] }
        var padding = 0
        if input[input.count - 1] == UInt8(ascii: "=") { padding += 1 }
        if input[input.count - 2] == UInt8(ascii: "=") {
            guard padding == 1 else { return nil }
            padding += 1
        }
        var result = [UInt8]()
        result.reserveCapacity(input.count / 4 * 3 - padding)
        return reverse.withUnsafeBufferPointer { table -> [UInt8]? in
            var i = 0
            while i < input.count {
                let isLast = i + 4 == input.count
                let used = isLast ? 4 - padding : 4
                var n: UInt32 = 0
                for j in 0..<4 {
                    var v: UInt8 = 0
                    if j < used {
                        v = table[Int(input[i + j])]
                        if v == 0xFF { return nil }
                    }
                    n = n << 6 | UInt32(v)
                }
                result.append(UInt8(n >> 16 & 0xFF))
                if used >= 3 { result.append(UInt8(n >> 8 & 0xFF)) }
                if used == 4 { result.append(UInt8(n & 0xFF)) }
                // Non-zero leftover bits mean a non-canonical spelling of the same bytes.
                if used == 3 && n & 0xFF != 0 { return nil }
                if used == 2 && n & 0xFFFF != 0 { return nil }
                i += 4
            }
            return result
        }
    }
}
