import CCrypto

/// One-shot SHA-256.
public enum SHA256Digest {
    /// The 32-byte SHA-256 digest of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { buffer, initialized in
            var state = SHA256_CTX()
            SHA256_Init(&state)
            if let base = bytes.baseAddress, bytes.count > 0 {
                SHA256_Update(&state, base, bytes.count)
            }
            SHA256_Final(buffer.baseAddress!, &state)
            initialized = 32
        }
    }

    /// The 32-byte SHA-256 digest of the UTF-8 bytes of `text`.
    public static func hash(_ text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }

    /// The 32-byte SHA-256 digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }
}
