import LoyaliHooks

/// `--max-connections` and `--max-connections-per-host`: the process-wide outbound HTTP limits
/// shared by every `http` sink (``ConnectionLimits``), and `--allow-network`: internal blocks the
/// SSRF guard lets every sink reach (``AddressGuard``); for `run`, `serve` and `validate`
/// (`test` takes `--allow-network` alone).
enum ConnectionOptions {
    /// The option names, for ``Arguments``.
    static let names = ["--max-connections", "--max-connections-per-host", allowNetworkOption]
    /// The repeatable option opening an internal block to every sink.
    static let allowNetworkOption = "--allow-network"
    /// The environment variable for `--allow-network`: blocks separated by commas or spaces.
    static let allowNetworksVariable = "LOYALI_HOOKS_ALLOW_NETWORKS"

    /// Help lines for `--allow-network`, indented like the commands' OPTIONS.
    static let allowNetworkHelp = """
          --allow-network CIDR
                             let every http sink connect to this internal block (e.g. 10.20.0.0/16,
                             fd00::/8; repeatable; else $\(allowNetworksVariable), comma-separated). By
                             default private, CGNAT, link-local (cloud metadata), multicast, reserved and
                             unique-local addresses are refused after DNS with blocked_address, and
                             loopback unless the URL's host is literally 127.x.x.x, [::1] or localhost.
                             A sink's allow_networks opens blocks for that sink alone
        """

    /// Help lines, indented like the commands' OPTIONS.
    static let help = """
          --max-connections N
                             outbound HTTP connections open at once across all sinks, idle ones included
                             (default: the file-descriptor limit, raised to the hard limit, less 256 and
                             less serve's ingest connections; else $\(ConnectionLimits.maxConnectionsVariable))
          --max-connections-per-host N
                             connections open at once to one scheme://host:port, shared by every sink
                             sending there (default 32; else $\(ConnectionLimits.maxConnectionsPerHostVariable)).
                             A sink's max_in_flight applies within both; deliveries beyond the caps wait
                             for a free connection, and the wait never counts against an attempt
        \(allowNetworkHelp)
        """

    /// Raises the descriptor limit, reads the limits (option, else environment, else default) and
    /// installs them for every `http` sink of the process. `otherDescriptors` is what the command
    /// keeps open besides outbound connections (serve's ingest connections).
    @discardableResult
    static func install(_ args: Arguments, otherDescriptors: Int = 0) throws(CLIError) -> ConnectionLimits {
        DescriptorLimit.raiseToHard()
        var limits = ConnectionLimits.defaults(otherDescriptors: otherDescriptors)
        if let value = try number(args, "--max-connections", ConnectionLimits.maxConnectionsVariable) {
            limits.maxConnections = value
        }
        if let value = try number(args, "--max-connections-per-host", ConnectionLimits.maxConnectionsPerHostVariable) {
            limits.maxConnectionsPerHost = value
        }
        LazyHTTPClient.process.configure(limits)
        try installAllowedNetworks(args)
        return limits
    }

    /// Reads `--allow-network` (else the environment) and installs the blocks for every `http`
    /// sink of the process. Called before pipelines load, so that `validate`'s warning about a
    /// literal internal address in a URL knows them.
    static func installAllowedNetworks(_ args: Arguments) throws(CLIError) {
        var texts: [(String, String)] = args.all(allowNetworkOption).map { ($0, allowNetworkOption) }
        if texts.isEmpty, let given = ProcessEnvironment.value(allowNetworksVariable) {
            texts = given.split(whereSeparator: { $0 == "," || $0 == " " }).map { (String($0), "$\(allowNetworksVariable)") }
        }
        var networks: [IPNetwork] = []
        for (text, name) in texts {
            switch IPNetwork.parse(text) {
            case .success(let parsed): networks.append(parsed.network)
            case .failure(let problem): throw .usage("\(name): \(problem.description)")
            }
        }
        LazyHTTPClient.process.configure(allowedNetworks: networks)
    }

    /// A warning when `pipelines` can need more connections than the limits or the descriptors
    /// allow (see ``ConnectionLimits/descriptorWarning(for:budget:)``).
    static func warning(_ limits: ConnectionLimits, pipelines: [PipelineDefinition]) -> String? {
        limits.descriptorWarning(for: pipelines, budget: ConnectionLimits.descriptorBudget())
    }

    private static func number(_ args: Arguments, _ option: String, _ variable: String) throws(CLIError) -> Int? {
        let text: String
        let name: String
        if let given = args.value(option) {
            (text, name) = (given, option)
        } else if let given = ProcessEnvironment.value(variable), !given.isEmpty {
            (text, name) = (given, "$\(variable)")
        } else {
            return nil
        }
        guard let value = Int(text), (1...10_000_000).contains(value) else {
            throw .usage("\(name) must be a whole number from 1 to 10000000, not '\(text)'")
        }
        return value
    }
}
