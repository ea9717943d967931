import CCrypto

/// Cryptographically secure random bytes from OpenSSL's CSPRNG, for secrets and identifiers.
public enum SecureRandom {
    /// `count` random bytes.
    ///
    /// Traps if OpenSSL cannot produce randomness: carrying on with predictable bytes in a secret
    /// would be worse than stopping, and on a working system `RAND_bytes` does not fail.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes: negative count \(count)")
        if count == 0 { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Fills `buffer` with random bytes. Traps on failure, for the reason given on `bytes(_:)`.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            // RAND_bytes takes an Int32 length, so very large buffers are filled in chunks.
            let chunk = min(buffer.count - offset, Int(Int32.max))
            let ok = RAND_bytes(
                buffer.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self),
                Int32(chunk))
            precondition(ok == 1, "OpenSSL RAND_bytes failed; refusing to continue without randomness")
            offset += chunk
        }
    }
}
