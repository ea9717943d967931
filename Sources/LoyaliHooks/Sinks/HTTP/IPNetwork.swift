/// A block of addresses in CIDR notation, `10.0.0.0/8` or `fd00::/8`: an `allow_networks` item,
/// an `--allow-network` value, or one of the ranges the ``AddressGuard`` refuses.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the block (every bit after the prefix is zero).
    public let address: IPAddress
    /// How many leading bits every address of the block shares: 0…32 for IPv4, 0…128 for IPv6.
    public let prefixLength: Int
    /// The bits of ``IPAddress/high`` and ``IPAddress/low`` that the prefix covers.
    private let highMask: UInt64
    private let lowMask: UInt64

    /// The block of `prefixLength` leading bits of `address` (clamped to the family's size); bits
    /// of `address` after the prefix are dropped.
    public init(_ address: IPAddress, prefixLength: Int) {
        let bits = address.family.bitCount
        let length = max(0, min(bits, prefixLength))
        self.prefixLength = length
        // Shifts by the full width or more give zero in Swift, which is what an empty mask needs.
        if address.family == .v4 {
            highMask = 0
            lowMask = UInt64(UInt32.max << UInt32(32 - length))
        } else {
            highMask = length == 0 ? 0 : UInt64.max << UInt64(64 - min(length, 64))
            lowMask = length <= 64 ? 0 : UInt64.max << UInt64(128 - length)
        }
        self.address = address.family == .v4
            ? IPAddress(ipv4: UInt32(truncatingIfNeeded: address.low & lowMask))
            : IPAddress(ipv6High: address.high & highMask, low: address.low & lowMask)
    }

    /// Whether `candidate` is in the block. An IPv4 block never holds an IPv6 address, not even
    /// one carrying an IPv4 address: the guard checks those forms itself.
    public func contains(_ candidate: IPAddress) -> Bool {
        candidate.family == address.family
            && candidate.high & highMask == address.high
            && candidate.low & lowMask == address.low
    }

    /// Why a text is not a network.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// What ``parse(_:)`` found: the network, and whether the text had bits set after its prefix
    /// (`10.1.2.3/8`, read as `10.0.0.0/8`), which is worth a warning.
    public struct Parsed: Sendable, Equatable {
        public var network: IPNetwork
        public var hadHostBits: Bool
    }

    /// Parses `address/prefix` or a lone address (a block of one: `/32` or `/128`).
    public static func parse(_ text: String) -> Result<Parsed, Problem> {
        let expected = "expected an address or a CIDR block such as 10.0.0.0/8 or fd00::/8"
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else {
            return .failure(Problem(description: "'\(text)' is not an IP network; \(expected)"))
        }
        let bits = address.family.bitCount
        var length = bits
        if parts.count == 2 {
            // Digits only: Int() would take "+8".
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy(\.isASCIIDigit), let value = Int(parts[1]) else {
                return .failure(Problem(description: "'\(text)' has no valid prefix length after '/'; \(expected)"))
            }
            guard value <= bits else {
                return .failure(Problem(description:
                    "'\(text)' has a prefix length of \(value), but an \(address.family == .v4 ? "IPv4" : "IPv6") prefix is at most \(bits)"))
            }
            length = value
        }
        let network = IPNetwork(address, prefixLength: length)
        return .success(Parsed(network: network, hadHostBits: network.address != address))
    }

    /// `10.0.0.0/8`, `fd00::/8`.
    public var description: String { "\(address)/\(prefixLength)" }
}

extension Character {
    /// `0`…`9` only, unlike `isNumber`, which takes other scripts' digits and fractions too.
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
