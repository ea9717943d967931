import CCrypto

/// Comparisons whose running time does not depend on where two secrets first differ, so an attacker
/// timing a verifier cannot learn a valid signature byte by byte.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes.
    ///
    /// Different lengths return `false` at once: a signature's length is public (it is fixed by the
    /// scheme), only its content is secret. Equal lengths are always compared in full.
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        let fast = a.withContiguousStorageIfAvailable { pa in
            b.withContiguousStorageIfAvailable { pb in
                CRYPTO_memcmp(pa.baseAddress!, pb.baseAddress!, pa.count) == 0
            }
        }
        if let fast, let result = fast { return result }
        // Non-contiguous collections: accumulate differences with OR so no byte ends the loop early.
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
