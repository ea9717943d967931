import Glibc

/// An IPv4 or IPv6 address as a number, for range checks (``IPNetwork``, ``AddressGuard``).
///
/// Both families share one 128-bit representation, `high` and `low`: an IPv4 address is kept in
/// the low 32 bits with its family recorded, so an IPv4 address and its IPv4-mapped IPv6 form
/// are different values (the guard relates them through ``embeddedIPv4``).
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// `v4` or `v6`.
    public enum Family: Sendable, Hashable {
        case v4
        case v6

        /// Bits in an address of the family.
        public var bitCount: Int { self == .v4 ? 32 : 128 }
    }

    /// The family.
    public let family: Family
    /// Bits 0–63 of an IPv6 address (most significant first); 0 for IPv4.
    let high: UInt64
    /// Bits 64–127 of an IPv6 address; the address itself in the low 32 bits for IPv4.
    let low: UInt64

    /// The IPv4 address `value` (`0x7F000001` is 127.0.0.1).
    public init(ipv4 value: UInt32) {
        family = .v4
        high = 0
        low = UInt64(value)
    }

    /// The IPv6 address whose 128 bits are `high` then `low`.
    public init(ipv6High high: UInt64, low: UInt64) {
        family = .v6
        self.high = high
        self.low = low
    }

    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6; `nil` for other lengths.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4:
            self.init(ipv4: bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            let high = bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
            let low = bytes.dropFirst(8).reduce(0) { $0 << 8 | UInt64($1) }
            self.init(ipv6High: high, low: low)
        default:
            return nil
        }
    }

    /// Parses a numeric address as written in a URL host or a CIDR: dotted-quad IPv4
    /// (`10.0.0.1`, exactly four decimal parts) or IPv6 (`fd00::1`, `::ffff:10.0.0.1`), without
    /// brackets or a zone. `nil` for anything else, host names included.
    public init?(_ text: some StringProtocol) {
        guard let parsed = String(text).withCString({ IPAddress(cString: $0) }) else { return nil }
        self = parsed
    }

    /// Parses a numeric address from a C string, as ``init(_:)`` does, without copying it.
    init?(cString text: UnsafePointer<CChar>) {
        // inet_pton is strict where it matters: no octal, hex or short forms ("127.1"), which
        // resolvers would read as other addresses.
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(ipv4: UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        guard let parsed = withUnsafeBytes(of: v6, { IPAddress(bytes: $0) }) else { return nil }
        self = parsed
    }

    /// The IPv4 address held in the low 32 bits (IPv4 itself, or an IPv6 form carrying one).
    var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: low) }

    /// The IPv4 address an IPv6 address carries in a form that reaches that IPv4 host (or that a
    /// resolver, a NAT64 gateway or the kernel may turn into it): IPv4-mapped `::ffff:a.b.c.d`,
    /// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and 6to4 `2002:aabb:ccdd::`.
    /// `nil` for IPv4 addresses, for `::` and `::1`, and for IPv6 addresses of no such form.
    public var embeddedIPv4: IPAddress? {
        guard family == .v6 else { return nil }
        let upper32 = low >> 32
        if high == 0 && upper32 == 0xFFFF { return IPAddress(ipv4: ipv4Value) }
        // ::/96 less :: and ::1, which are IPv6's own unspecified and loopback addresses.
        if high == 0 && upper32 == 0 && low > 1 { return IPAddress(ipv4: ipv4Value) }
        if high == 0x0064_FF9B_0000_0000 && upper32 == 0 { return IPAddress(ipv4: ipv4Value) }
        if high >> 48 == 0x2002 { return IPAddress(ipv4: UInt32(truncatingIfNeeded: high >> 16)) }
        return nil
    }

    /// The address as `inet_ntop` writes it: `10.0.0.1`, `fd00::1`, `::ffff:10.0.0.1`.
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if family == .v4 {
            var v4 = in_addr(s_addr: ipv4Value.bigEndian)
            inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count))
        } else {
            var bytes = [UInt8](repeating: 0, count: 16)
            for index in 0..<8 {
                bytes[index] = UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * index))
                bytes[8 + index] = UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * index))
            }
            inet_ntop(AF_INET6, bytes, &buffer, socklen_t(buffer.count))
        }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
