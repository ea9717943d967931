/// Where a pipeline's events come from (`source:` in a pipeline file).
///
/// Several pipelines may name the same source; the runner reads each distinct ``identity`` once
/// and fans every event out to all subscribers.
public protocol EventSource: Sendable {
    /// The YAML `type` (`file`, `stdin`, `sample`, `http`).
    var kind: String { get }
    /// Equal for two definitions that denote the same stream (e.g. `file:events/a.jsonl`).
    var identity: String { get }
    /// Opens the stream of JSON lines. Sources that are not line streams (such as `http`, which
    /// `serve` receives) throw a ``SourceError`` explaining where they run.
    func open() throws(SourceError) -> InputStream
}

/// Builds an ``EventSource`` from its `source:` mapping.
public struct SourceFactory: Sendable {
    /// The `type` value this factory answers to.
    public let kind: String
    /// One line for docs.
    public let summary: String
    /// The options allowed next to `type`.
    public let options: [ConfigKey]
    /// The names of ``options``.
    public var keys: [String] { options.names }
    /// Reads the options; `nil` after reporting an error.
    public let make: @Sendable (_ mapping: ConfigMapping, _ reader: ConfigReader) -> (any EventSource)?

    public init(
        kind: String, summary: String, options: [ConfigKey],
        make: @escaping @Sendable (_ mapping: ConfigMapping, _ reader: ConfigReader) -> (any EventSource)?
    ) {
        self.kind = kind
        self.summary = summary
        self.options = options
        self.make = make
    }

    /// A factory whose options take any value (no description for the schema).
    public init(
        kind: String, summary: String, keys: [String],
        make: @escaping @Sendable (_ mapping: ConfigMapping, _ reader: ConfigReader) -> (any EventSource)?
    ) {
        self.init(kind: kind, summary: summary, options: keys.map { ConfigKey($0, .any, "") }, make: make)
    }
}
