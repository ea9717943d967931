/// Lowercase hexadecimal, the encoding of `v1=` signatures in `X-Loyali-Signature`.
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `bytes` as lowercase hex, two characters per byte.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        let count = bytes.count * 2
        if count == 0 { return "" }
        return String(unsafeUninitializedCapacity: count) { out in
            digits.withUnsafeBufferPointer { table in
                var i = 0
                for byte in bytes {
                    out[i] = table[Int(byte >> 4)]
                    out[i + 1] = table[Int(byte & 0x0F)]
                    i += 2
                }
            }
            return count
        }
    }

    /// Writes the lowercase hex of `bytes` to `output` (which must hold `2 * bytes.count` bytes) and
    /// returns the number written; lets header builders fill one String buffer without interim copies.
    static func write(_ bytes: UnsafeRawBufferPointer, to output: UnsafeMutableBufferPointer<UInt8>) -> Int {
        precondition(output.count >= bytes.count * 2, "hex output buffer is too small")
        digits.withUnsafeBufferPointer { table in
            for (i, byte) in bytes.enumerated() {
                output[2 * i] = table[Int(byte >> 4)]
                output[2 * i + 1] = table[Int(byte & 0x0F)]
            }
        }
        return bytes.count * 2
    }

    /// The bytes spelled by `text`, or `nil` if it has odd length or a character that is not a hex
    /// digit. Upper- and lowercase digits are both accepted.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = text.utf8
        guard utf8.count % 2 == 0 else { return nil }
        var result = [UInt8]()
        result.reserveCapacity(utf8.count / 2)
        var high: UInt8? = nil
        for char in utf8 {
            guard let nibble = value(of: char) else { return nil }
            if let h = high {
                result.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return result
    }

    private static func value(of char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return char &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return char &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return char &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }
}
