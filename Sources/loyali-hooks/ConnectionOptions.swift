import LoyaliHooks

/// `--max-connections` and `--max-connections-per-host`: the process-wide outbound HTTP limits
/// shared by every `http` sink (``ConnectionLimits``), for `run`, `serve` and `validate`.
enum ConnectionOptions {
    /// The option names, for ``Arguments``.
    static let names = ["--max-connections", "--max-connections-per-host"]

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
        return limits
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
