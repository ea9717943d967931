import CCrypto

/// An HMAC-SHA256 key with its keyed hash states computed once, so each message costs only the
/// SHA-256 blocks of the message itself plus one outer block.
///
/// `HMAC()` / `EVP_MAC` redo the key schedule (two extra compressions) and allocate a context on every
/// call; a sink signs every delivery attempt with the same secrets, so the schedule is paid once here.
public struct HMACSHA256Key: Sendable {
    /// The length of a MAC in bytes.
    public static let macLength = 32
    private static let blockLength = 64

    /// SHA-256 state after absorbing `key ^ ipad`; copied for each message.
    private var inner = SHA256_CTX()
    /// SHA-256 state after absorbing `key ^ opad`.
    private var outer = SHA256_CTX()

    /// A key from raw bytes of any length (keys longer than 64 bytes are first hashed, per RFC 2104).
    public init(_ key: [UInt8]) {
        var block = [UInt8](repeating: 0, count: Self.blockLength)
        if key.count > Self.blockLength {
            let digest = key.withUnsafeBytes { SHA256Digest.hash($0) }
            block.replaceSubrange(0..<digest.count, with: digest)
        } else {
            block.replaceSubrange(0..<key.count, with: key)
        }
        let innerPad = block.map { $0 ^ 0x36 }
        let outerPad = block.map { $0 ^ 0x5c }
        SHA256_Init(&inner)
        SHA256_Init(&outer)
        innerPad.withUnsafeBytes { _ = SHA256_Update(&inner, $0.baseAddress, $0.count) }
        outerPad.withUnsafeBytes { _ = SHA256_Update(&outer, $0.baseAddress, $0.count) }
    }

    /// The 32-byte MAC of `message`.
    public func authenticate(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        makeMAC { state in Self.absorb(message, into: &state) }
    }

    /// The 32-byte MAC of `message`.
    public func authenticate(_ message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { authenticate($0) }
    }

    /// The MAC of `prefix` followed by `body`, without concatenating them (e.g. `"<t>."` + body).
    public func authenticate(prefix: [UInt8], body: UnsafeRawBufferPointer) -> [UInt8] {
        makeMAC { state in
            prefix.withUnsafeBytes { Self.absorb($0, into: &state) }
            Self.absorb(body, into: &state)
        }
    }

    /// The MAC of the concatenation of `parts`, in order.
    public func authenticate(parts: UnsafeRawBufferPointer...) -> [UInt8] {
        makeMAC { state in
            for part in parts { Self.absorb(part, into: &state) }
        }
    }

    /// Writes the MAC of `prefix` + `separator` + `body` into the first 32 bytes of `output`,
    /// allocating nothing; the signature schemes use this to encode straight from a stack buffer.
    func authenticate(
        prefix: UnsafeRawBufferPointer, separator: UInt8, body: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) {
        precondition(output.count >= Self.macLength, "HMAC output buffer is too small")
        var state = inner
        Self.absorb(prefix, into: &state)
        withUnsafeBytes(of: separator) { Self.absorb($0, into: &state) }
        Self.absorb(body, into: &state)
        finish(&state, into: output.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }

    @inline(__always)
    private func makeMAC(_ feed: (inout SHA256_CTX) -> Void) -> [UInt8] {
        var state = inner
        feed(&state)
        return [UInt8](unsafeUninitializedCapacity: Self.macLength) { buffer, initialized in
            finish(&state, into: buffer.baseAddress!)
            initialized = Self.macLength
        }
    }

    @inline(__always)
    private static func absorb(_ bytes: UnsafeRawBufferPointer, into state: inout SHA256_CTX) {
        // A zero-length buffer may have a nil base address; SHA256_Update with length 0 is a no-op.
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        SHA256_Update(&state, base, bytes.count)
    }

    /// Completes the inner hash in `state`, then the outer hash over it, writing 32 bytes to `out`.
    @inline(__always)
    private func finish(_ state: inout SHA256_CTX, into out: UnsafeMutablePointer<UInt8>) {
        // The inner digest lives in a 32-byte tuple so it stays on the stack.
        var innerDigest: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &innerDigest) { digest in
            let digestBase = digest.baseAddress!.assumingMemoryBound(to: UInt8.self)
            SHA256_Final(digestBase, &state)
            var outerState = outer
            SHA256_Update(&outerState, digestBase, Self.macLength)
            SHA256_Final(out, &outerState)
        }
    }
}
