/// A loaded, checked pipeline: everything one YAML file declares, ready to run.
public struct PipelineDefinition: Sendable {
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
}

/// One named sink of a pipeline, with its retry policy.
public struct SinkDefinition: Sendable {
    /// The sink's name (its key under `sinks:`).
    public let name: String
    /// The implementation.
    public let sink: any Sink
    /// How failed attempts are retried.
    public let retry: RetryPolicy
    /// When the sink is paused and disabled (`pause:`); `nil` when `pause: false`.
    public var pause: PausePolicy? = .standard
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
