/// What a transform step decided about an event.
public enum TransformOutcome: Sendable, Equatable {
    /// Pass the (possibly changed) event on to the next step.
    case keep
    /// Stop here: this pipeline delivers nothing for the event.
    case drop
}

/// Why a transform step could not process an event. The event's deliveries for that pipeline are
/// reported as failed with this reason instead of being silently lost.
public struct TransformFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The step that failed (`redact`, a plugin name, …).
    public var step: String
    /// What went wrong.
    public var reason: String

    public init(step: String, reason: String) {
        self.step = step
        self.reason = reason
    }

    public var description: String { "transform '\(step)' failed: \(reason)" }
}

/// One ordered step of a pipeline's `transform:` list.
///
/// Steps only see ``EventEnvelope/data``; the envelope's identity fields are immutable by type.
public protocol TransformStep: Sendable {
    /// The step name as written in YAML (`set`, `redact`, …).
    var name: String { get }

    /// Changes `envelope` in place, or asks for the event to be dropped.
    func apply(to envelope: inout EventEnvelope) throws(TransformFailure) -> TransformOutcome
}

/// Builds a ``TransformStep`` from its YAML value, e.g. the `[data.customer_email]` of
/// `- redact: [data.customer_email]`.
public struct TransformStepFactory: Sendable {
    /// The step name this factory answers to.
    public let name: String
    /// One line for `--help` and docs.
    public let summary: String
    /// What the step's own value must be (`[data.a, data.b]` for `redact`), for the schema.
    public let value: ConfigKey.Value
    /// Keys allowed beside the step's own key in the same list item, such as `config` in
    /// `- { plugin: notify-message, config: {…} }`. Empty for most steps.
    public let options: [ConfigKey]
    /// The names of ``options``.
    public var optionKeys: [String] { options.names }
    /// Reads the step's options, reporting problems through the reader; `nil` after an error.
    public let make: @Sendable (_ value: YAMLNode, _ reader: ConfigReader) -> (any TransformStep)?
    /// For steps with ``optionKeys``: reads the step's value and the item's other keys.
    public let makeWithOptions: (@Sendable (_ value: YAMLNode, _ options: ConfigMapping, _ reader: ConfigReader) -> (any TransformStep)?)?

    /// A step written as a single key: `- name: value`.
    public init(
        name: String, summary: String, value: ConfigKey.Value = .any,
        make: @escaping @Sendable (_ value: YAMLNode, _ reader: ConfigReader) -> (any TransformStep)?
    ) {
        self.name = name
        self.summary = summary
        self.value = value
        self.options = []
        self.make = make
        self.makeWithOptions = nil
    }

    /// A step whose list item may hold `options` next to its own key.
    public init(
        name: String, summary: String, value: ConfigKey.Value = .any, options: [ConfigKey],
        make: @escaping @Sendable (_ value: YAMLNode, _ options: ConfigMapping, _ reader: ConfigReader) -> (any TransformStep)?
    ) {
        self.name = name
        self.summary = summary
        self.value = value
        self.options = options
        self.makeWithOptions = make
        self.make = { value, reader in make(value, ConfigMapping(node: value, entries: []), reader) }
    }

    /// A step whose list item may hold `optionKeys` next to its own key, each taking any value.
    public init(
        name: String, summary: String, optionKeys: [String],
        make: @escaping @Sendable (_ value: YAMLNode, _ options: ConfigMapping, _ reader: ConfigReader) -> (any TransformStep)?
    ) {
        self.init(name: name, summary: summary, options: optionKeys.map { ConfigKey($0, .any, "") }, make: make)
    }
}

extension ConfigReader {
    /// Reads a list of field paths (`[data.a, data.b]`), reporting each bad one at its item.
    func fieldPaths(_ node: YAMLNode, what: String) -> [FieldPath]? {
        guard let items = stringList(node, what: what, interpolate: false) else { return nil }
        var paths: [FieldPath] = []
        for (text, item) in items {
            switch FieldPath.parse(text) {
            case .success(let path): paths.append(path)
            case .failure(let problem): error("\(what): \(problem)", at: item)
            }
        }
        return paths.count == items.count ? paths : nil
    }

    /// Reads one field path scalar.
    func fieldPath(_ node: YAMLNode, what: String) -> FieldPath? {
        guard let text = literal(node, what: what) else { return nil }
        switch FieldPath.parse(text) {
        case .success(let path): return path
        case .failure(let problem):
            error("\(what): \(problem)", at: node)
            return nil
        }
    }
}
