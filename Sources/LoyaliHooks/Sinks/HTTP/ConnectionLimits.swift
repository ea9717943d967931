/// Outbound HTTP connection limits for the whole process, shared by every `http` sink: one place,
/// set by `--max-connections` and `--max-connections-per-host` (or their environment variables).
///
/// - `maxConnectionsPerHost` caps the connections, idle and busy, that all sinks together hold to
///   one destination (scheme, host, port): a receiver shared by many subscriptions never sees more.
/// - `maxConnections` caps them across every destination, so the process never runs out of file
///   descriptors.
/// - A sink's `max_in_flight` still applies within both.
///
/// A request waiting for a slot under these limits waits in the transport's queue, before libcurl
/// sees it: its deadline does not run and it never fails for it.
public struct ConnectionLimits: Sendable, Equatable {
    /// `max_connections_per_host` when not set.
    public static let defaultPerHost = 32
    /// Descriptors left for everything but outbound connections: the store and its journal, logs,
    /// plugin pipes, listeners, the DNS resolver.
    public static let reservedDescriptors = 256
    /// The environment variable for ``maxConnections``.
    public static let maxConnectionsVariable = "LOYALI_HOOKS_MAX_CONNECTIONS"
    /// The environment variable for ``maxConnectionsPerHost``.
    public static let maxConnectionsPerHostVariable = "LOYALI_HOOKS_MAX_CONNECTIONS_PER_HOST"

    /// Connections open at once across every destination, at most.
    public var maxConnections: Int
    /// Connections open at once to one destination, at most.
    public var maxConnectionsPerHost: Int

    /// Limits of `maxConnections` in all and `maxConnectionsPerHost` per destination (each at least 1).
    public init(maxConnections: Int, maxConnectionsPerHost: Int = ConnectionLimits.defaultPerHost) {
        self.maxConnections = max(1, maxConnections)
        self.maxConnectionsPerHost = max(1, maxConnectionsPerHost)
    }

    /// The defaults for this process: 32 per destination, and in all the descriptors the current
    /// limit leaves after ``reservedDescriptors`` and `otherDescriptors` (ingest connections).
    public static func defaults(otherDescriptors: Int = 0) -> ConnectionLimits {
        ConnectionLimits(maxConnections: descriptorBudget(otherDescriptors: otherDescriptors))
    }

    /// The descriptors outbound connections can use under the current limit.
    public static func descriptorBudget(otherDescriptors: Int = 0) -> Int {
        max(16, DescriptorLimit.soft - reservedDescriptors - max(0, otherDescriptors))
    }

    /// The most connections `pipelines` can hold open at once under these limits: per destination,
    /// the sum of its sinks' `max_in_flight` up to the per-host cap, summed, up to the global cap.
    public func demand(of pipelines: [PipelineDefinition]) -> Int {
        var perDestination: [HTTPDestination: Int] = [:]
        for pipeline in pipelines {
            for definition in pipeline.sinks {
                guard let sink = definition.sink as? HTTPSink else { continue }
                perDestination[HTTPDestination(sink.url), default: 0] += sink.maxInFlight
            }
        }
        let total = perDestination.values.reduce(0) { $0 + min($1, maxConnectionsPerHost) }
        return min(total, maxConnections)
    }

    /// A warning when `pipelines` can need more connections at once than `budget` descriptors
    /// leave (connects would then fail), or more than ``maxConnections`` (deliveries then wait for
    /// a free connection); `nil` when everything fits.
    public func descriptorWarning(for pipelines: [PipelineDefinition], budget: Int) -> String? {
        let unbounded = ConnectionLimits(maxConnections: Int.max, maxConnectionsPerHost: maxConnectionsPerHost)
        let wanted = unbounded.demand(of: pipelines)
        let needed = min(wanted, maxConnections)
        if needed > budget {
            return "the http sinks can open \(needed) connections at once, but only \(budget) file descriptors are left for them "
                + "(RLIMIT_NOFILE \(DescriptorLimit.soft)); raise 'ulimit -n' or lower --max-connections"
        }
        if wanted > maxConnections {
            return "the http sinks can use up to \(wanted) connections at once; at most \(maxConnections) will be open "
                + "(--max-connections), and deliveries beyond that wait for a free connection"
        }
        return nil
    }
}
