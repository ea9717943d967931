/// A loaded, checked pipeline: everything one YAML file declares, ready to run.
///
/// A class, not a struct: every sink lane, planner and layout entry holds its pipeline, and as a
/// struct each held a copy of some 200 bytes of fields; with 10,000 pipelines those copies alone
/// were tens of megabytes. Every property is a `let` of a `Sendable` type, so sharing one
/// instance is as safe as copying it.
public final class PipelineDefinition: Sendable {
    /// The pipeline's name (`pipeline:`, defaulting to the file name).
    public let name: String
    /// `description:`, if any.
    public let description: String?
    /// The file it came from.
    public let file: String
    /// Where its events come from.
    public let source: any EventSource
    /// Which event types it subscribes to.
    public let filter: EventFilter
    /// Transform steps, in order.
    public let steps: [any TransformStep]
    /// How its deliveries are signed; `nil` when it has no secrets and only local sinks.
    public let signing: PipelineSigning?
    /// Its sinks, in file order.
    public let sinks: [SinkDefinition]

    init(
        name: String, description: String?, file: String, source: any EventSource, filter: EventFilter,
        steps: [any TransformStep], signing: PipelineSigning?, sinks: [SinkDefinition]
    ) {
        self.name = name
        self.description = description
        self.file = file
        self.source = source
        self.filter = filter
        self.steps = steps
        self.signing = signing
        self.sinks = sinks
    }
}

/// One named sink of a pipeline, with its retry policy and pacing.
public struct SinkDefinition: Sendable {
    /// The sink's name (its key under `sinks:`).
    public let name: String
    /// The implementation.
    public let sink: any Sink
    /// How failed attempts are retried.
    public let retry: RetryPolicy
    /// When the sink is paused and disabled (`pause:`); `nil` when `pause: false`.
    public var pause: PausePolicy?
    /// `rate_limit:`: the most attempts it sends per second (or minute, hour); `nil` = no limit.
    public let rateLimit: RateLimit?
    /// `ordering:`: deliveries with the same key go one at a time, in source order; `nil` = any order.
    public let ordering: DeliveryOrdering?

    /// A sink definition; pausing has its defaults, pacing and ordering are optional.
    public init(
        name: String, sink: any Sink, retry: RetryPolicy, pause: PausePolicy? = .standard, rateLimit: RateLimit? = nil,
        ordering: DeliveryOrdering? = nil
    ) {
        self.name = name
        self.sink = sink
        self.retry = retry
        self.pause = pause
        self.rateLimit = rateLimit
        self.ordering = ordering
    }
}

/// A pipeline's `sign:` settings after secrets are resolved.
public struct PipelineSigning: Sendable {
    /// `loyali` or `standard-webhooks`.
    public let schemeName: String
    /// Produces the signature headers.
    public let scheme: any SignatureScheme
    /// How many secrets are active (one signature each).
    public let secretCount: Int
}
