/// A destination for deliveries (`sinks:` in a pipeline file): an HTTP endpoint, a file, stdout or
/// a plugin.
public protocol Sink: Sendable {
    /// The YAML `type`.
    var kind: String { get }
    /// Where deliveries go, for humans: a URL, a path, `stdout`.
    var target: String { get }
    /// Whether deliveries must carry a signature (true for anything leaving the machine).
    var requiresSignature: Bool { get }
    /// Headers this sink adds to the standard ones, as configured.
    var configuredHeaders: [ConfiguredHeader] { get }

    /// Performs one attempt. Called off Swift's cooperative pool: implementations may block.
    func deliver(_ request: DeliveryRequest) throws(DeliveryFailure)
}

extension Sink {
    public var requiresSignature: Bool { false }
    public var configuredHeaders: [ConfiguredHeader] { [] }
}

/// A header from a sink's `headers:` option. The value may come from `${VAR}`; such values are
/// sent as expanded but displayed as written, so a token never reaches logs or dry-run output.
public struct ConfiguredHeader: Sendable, Equatable {
    /// The header name.
    public var name: String
    /// The value sent.
    public var value: String
    /// The value as shown to people: the template when it came from the environment.
    public var displayValue: String
}

/// Builds a ``Sink`` from its mapping under `sinks:`.
public struct SinkFactory: Sendable {
    /// The `type` value this factory answers to.
    public let kind: String
    /// One line for docs.
    public let summary: String
    /// The options allowed next to `type` and `retry`.
    public let options: [ConfigKey]
    /// The names of ``options``.
    public var keys: [String] { options.names }
    /// Reads the options; `nil` after reporting an error.
    public let make: @Sendable (_ name: String, _ mapping: ConfigMapping, _ reader: ConfigReader) -> (any Sink)?

    public init(
        kind: String, summary: String, options: [ConfigKey],
        make: @escaping @Sendable (_ name: String, _ mapping: ConfigMapping, _ reader: ConfigReader) -> (any Sink)?
    ) {
        self.kind = kind
        self.summary = summary
        self.options = options
        self.make = make
    }

    /// A factory whose options take any value (no description for the schema).
    public init(
        kind: String, summary: String, keys: [String],
        make: @escaping @Sendable (_ name: String, _ mapping: ConfigMapping, _ reader: ConfigReader) -> (any Sink)?
    ) {
        self.init(kind: kind, summary: summary, options: keys.map { ConfigKey($0, .any, "") }, make: make)
    }
}
