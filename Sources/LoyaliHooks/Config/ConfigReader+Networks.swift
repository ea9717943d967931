extension ConfigReader {
    /// A list of CIDR blocks (`allow_networks`); a single one counts as a list of one. A block
    /// that does not parse is an error at its item; one written with bits after its prefix
    /// (`10.1.2.3/8`) is read as its block (`10.0.0.0/8`) with a warning, since that is rarely
    /// what was meant.
    public func networks(_ node: YAMLNode, what: String) -> [IPNetwork] {
        guard let items = stringList(node, what: what) else { return [] }
        var networks: [IPNetwork] = []
        for (text, item) in items {
            switch IPNetwork.parse(text) {
            case .success(let parsed):
                if parsed.hadHostBits {
                    warning("\(what): \(quoted(item, text)) has bits set after its /\(parsed.network.prefixLength) prefix; it is read as \(parsed.network)", at: item)
                }
                networks.append(parsed.network)
            case .failure(let problem):
                error("\(what): \(problem.description)", at: item)
            }
        }
        return networks
    }

    /// Warns at `node` when `url`'s host is a literal address the SSRF guard will refuse (see
    /// ``AddressGuard``) and no block of `allowedNetworks` allows: every attempt would fail with
    /// `blocked_address`. A host name is only known at connect time, so it is never warned about.
    func warnIfBlocked(_ url: WebhookURL, allowedNetworks: [IPNetwork], at node: YAMLNode) {
        guard let address = IPAddress(url.host) else { return }
        let addressGuard = AddressGuard(allowedNetworks: allowedNetworks)
        guard let range = addressGuard.refusal(of: address, host: url.host) else { return }
        warning(
            "the SSRF guard refuses \(address) (\(range.network) is \(range.name)): every attempt would fail with "
                + "blocked_address; add the block to the sink's allow_networks (or run with --allow-network) if this is intended",
            at: node)
    }
}
