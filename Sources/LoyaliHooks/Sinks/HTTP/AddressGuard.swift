/// The SSRF guard: which addresses an `http` sink may connect to.
///
/// A sink's URL is written by whoever writes pipeline files, and its host name is answered by
/// whoever runs its DNS: either can point deliveries (and their signatures) at this machine's
/// internal network, a cloud metadata service, or a port on loopback. So the transport asks the
/// guard about the address it is about to connect to, after DNS, for every new connection
/// (`CURLOPT_OPENSOCKETFUNCTION`), and again before a request rides a kept-alive connection
/// (``CurlTransfer``), and refuses with `blocked_address` before any packet is sent.
///
/// Refused unless allowed: the ``refusedRanges``, checked against an IPv6 address and the IPv4
/// address it carries (``IPAddress/embeddedIPv4``). Loopback is allowed only when the URL's host
/// is literally a loopback address or `localhost`, for local development; any other name that
/// resolves to loopback is refused. A sink's `allow_networks` and the process's
/// `--allow-network` open blocks up.
public struct AddressGuard: Sendable {
    /// One refused block and what it is, for messages.
    public struct Range: Sendable {
        public let network: IPNetwork
        /// What the block is, to follow "10.0.0.0/8 is": "a private network", "loopback".
        public let name: String
        /// Loopback: allowed when the URL names it literally.
        public let isLoopback: Bool

        init(_ cidr: String, _ name: String, loopback: Bool = false) {
            // The table below is ours and every entry parses; a typo fails the guard's tests.
            network = (try? IPNetwork.parse(cidr).get().network) ?? IPNetwork(IPAddress(ipv4: 0), prefixLength: 0)
            self.name = name
            isLoopback = loopback
        }
    }

    /// Every block refused by default. IPv4 blocks apply to IPv4 addresses and to the IPv4
    /// address inside an IPv6 one (mapped, compatible, NAT64, 6to4).
    public static let refusedRanges: [Range] = [
        Range("0.0.0.0/8", "the 'this network' block (0.0.0.0 reaches this host)"),
        Range("10.0.0.0/8", "a private network"),
        Range("100.64.0.0/10", "carrier-grade NAT space"),
        Range("127.0.0.0/8", "loopback", loopback: true),
        Range("169.254.0.0/16", "link-local, where cloud metadata services answer"),
        Range("172.16.0.0/12", "a private network"),
        Range("192.168.0.0/16", "a private network"),
        Range("224.0.0.0/4", "multicast"),
        Range("240.0.0.0/4", "reserved, with the broadcast address"),
        Range("::/128", "the unspecified address"),
        Range("::1/128", "loopback", loopback: true),
        Range("fc00::/7", "a unique local (private) network"),
        Range("fe80::/10", "link-local"),
        Range("fec0::/10", "site-local (deprecated private addresses)"),
        Range("ff00::/8", "multicast"),
    ]

    /// Blocks the sink allows (its `allow_networks`).
    public var allowedNetworks: [IPNetwork]
    /// Blocks the whole process allows (`--allow-network`).
    public var processAllowedNetworks: [IPNetwork]

    /// A guard that opens `allowedNetworks` and `processAllowedNetworks` up.
    public init(allowedNetworks: [IPNetwork] = [], processAllowedNetworks: [IPNetwork] = []) {
        self.allowedNetworks = allowedNetworks
        self.processAllowedNetworks = processAllowedNetworks
    }

    /// The refused block `address` falls in, by itself or through the IPv4 address it carries;
    /// `nil` when it is in none (a public address).
    public static func refusedRange(of address: IPAddress) -> Range? {
        // Scanned as plain blocks: a ``Range`` holds a string, and copying one per candidate
        // costs more than the compares. It is only copied for the answer.
        if let index = refusedNetworks.firstIndex(where: { $0.contains(address) }) { return refusedRanges[index] }
        if let inner = address.embeddedIPv4, let index = refusedNetworks.firstIndex(where: { $0.contains(inner) }) {
            return refusedRanges[index]
        }
        return nil
    }

    /// ``refusedRanges``' blocks, in the same order.
    private static let refusedNetworks = refusedRanges.map(\.network)

    /// Whether a URL host is literally a loopback address or `localhost`: only then may its
    /// connections go to loopback. `host` is as ``WebhookURL`` keeps it (lower case, no brackets).
    public static func isLiteralLoopback(host: String) -> Bool {
        if host == "localhost" { return true }
        guard let address = IPAddress(host) else { return false }
        return refusedRange(of: address)?.isLoopback == true
    }

    /// Why connecting to `address` for a URL whose host is `host` is refused; `nil` when it is
    /// allowed.
    public func refusal(of address: IPAddress, host: String) -> Range? {
        guard let range = Self.refusedRange(of: address) else { return nil }
        if isAllowed(address) { return nil }
        if range.isLoopback && Self.isLiteralLoopback(host: host) { return nil }
        return range
    }

    /// Whether an allowed block holds `address` or the IPv4 address it carries.
    public func isAllowed(_ address: IPAddress) -> Bool {
        let inner = address.embeddedIPv4
        func holds(_ network: IPNetwork) -> Bool {
            network.contains(address) || inner.map(network.contains) == true
        }
        return allowedNetworks.contains(where: holds) || processAllowedNetworks.contains(where: holds)
    }

    /// The message of a `blocked_address` failure: the address, what it is, and the way to allow it.
    public static func message(address: IPAddress, range: Range, host: String, reused: Bool = false) -> String {
        let target = IPAddress(host) == address ? "\(address)" : "\(host) (\(address))"
        return "refused to \(reused ? "send over a connection" : "connect") to \(target): \(range.network) is \(range.name); "
            + "internal addresses are blocked unless a sink's allow_networks or --allow-network allows them"
    }
}
