import Foundation

/// A plugin's `plugins/NAME/plugin.yaml`: what it is, how to start it and which options it takes.
///
/// ```yaml
/// name: notify-message
/// kind: transform                      # or sink
/// description: Adds the push notification text to points, tier and reward events.
/// command: [python3, notify_message.py]  # argv, run in the plugin folder
/// timeout: 5s                          # per request
/// concurrency: 1                       # processes
/// config:
///   field: { type: string, default: notification, description: data key that gets the text }
/// ```
public struct PluginManifest: Sendable {
    /// What the plugin is used as.
    public enum Kind: String, Sendable, CaseIterable {
        /// A step under `transform:` (`- plugin: NAME`).
        case transform
        /// A sink under `sinks:` (`type: plugin, plugin: NAME`).
        case sink
    }

    /// The manifest's file name inside a plugin folder.
    public static let fileName = "plugin.yaml"
    /// Keys a manifest may have.
    public static let keys = ["name", "kind", "description", "command", "config", "timeout", "start_timeout", "concurrency"]
    /// Keys of one `config:` field.
    public static let fieldKeys = ["type", "required", "default", "description"]

    /// The plugin's name; equal to its folder's name.
    public var name: String
    /// Transform or sink.
    public var kind: Kind
    /// One line for people.
    public var description: String
    /// The program and its arguments, run with the plugin folder as working directory.
    public var command: [String]
    /// Options the plugin accepts, in manifest order.
    public var config: [PluginConfigField]
    /// How long one request may take before the process counts as hung.
    public var timeout: Duration
    /// How long the process may take to answer `ready` after `init`.
    public var startTimeout: Duration
    /// How many processes serve requests.
    public var concurrency: Int
    /// The plugin folder, absolute.
    public var directory: String
    /// The manifest's path as shown in messages.
    public var file: String

    /// A manifest built in code (tests, embedders); ``load(file:directory:environment:)`` reads one.
    public init(
        name: String, kind: Kind, description: String, command: [String], config: [PluginConfigField] = [],
        timeout: Duration = .seconds(5), startTimeout: Duration = .seconds(10), concurrency: Int = 1,
        directory: String, file: String
    ) {
        self.name = name
        self.kind = kind
        self.description = description
        self.command = command
        self.config = config
        self.timeout = timeout
        self.startTimeout = startTimeout
        self.concurrency = concurrency
        self.directory = directory
        self.file = file
    }

    /// Reads and checks the manifest in `directory` (`file` is its path as shown in messages).
    /// Returns the manifest, or `nil` and every problem as `path:line:col: error: …`.
    public static func load(file: String, directory: String, environment: [String: String]) -> (PluginManifest?, [Diagnostic]) {
        guard let data = FileManager.default.contents(atPath: file) else {
            return (nil, [Diagnostic(.error, at: nil, "\(file): cannot be read")])
        }
        guard let text = String(validating: Array(data), as: UTF8.self) else {
            return (nil, [Diagnostic(.error, at: nil, "\(file): is not valid UTF-8")])
        }
        return parse(text, file: file, directory: directory, environment: environment)
    }

    /// Checks manifest `text`. The folder's name must match `name:`.
    public static func parse(_ text: String, file: String, directory: String, environment: [String: String]) -> (PluginManifest?, [Diagnostic]) {
        let documents: [YAMLNode]
        do {
            documents = try YAMLDocument.parse(text, path: file)
        } catch {
            return (nil, [error])
        }
        guard let root = documents.first else {
            return (nil, [Diagnostic(.error, at: SourceLocation(path: file, line: 1, column: 1), "the manifest is empty; expected name, kind, description and command")])
        }
        let reader = ConfigReader(
            path: file, text: text, interpolator: VariableInterpolator(environment: environment), registry: StageRegistry())
        let manifest = read(root, file: file, directory: directory, reader: reader, environment: environment)
        let ordered = reader.diagnostics.sorted { ($0.location ?? root.location) < ($1.location ?? root.location) }
        return (reader.hasErrors ? nil : manifest, ordered)
    }

    private static func read(
        _ root: YAMLNode, file: String, directory: String, reader: ConfigReader, environment: [String: String]
    ) -> PluginManifest? {
        guard let top = reader.mapping(root, allowedKeys: keys, in: "a plugin manifest") else { return nil }
        reader.require(["name", "kind", "description", "command"], in: top, context: "the plugin manifest")
        let folder = (directory as NSString).lastPathComponent
        var name: String?
        if let node = top["name"], let text = reader.literal(node, what: "name") {
            if text != folder {
                reader.error("name '\(text)' must match the plugin's folder name '\(folder)'", at: node)
            } else {
                name = text
            }
        }
        var kind: Kind?
        if let node = top["kind"], let text = reader.literal(node, what: "kind") {
            kind = Kind(rawValue: text)
            if kind == nil {
                let names = Kind.allCases.map(\.rawValue)
                reader.error("unknown plugin kind '\(text)'\(Suggestion.didYouMean(text, in: names)); expected transform or sink", at: node)
            }
        }
        let description = top["description"].flatMap { reader.literal($0, what: "description") }
        let command = top["command"].flatMap { self.command($0, directory: directory, reader: reader, environment: environment) }
        let timeout = top["timeout"].map { positiveDuration($0, what: "timeout", reader: reader) } ?? .seconds(5)
        let startTimeout = top["start_timeout"].map { positiveDuration($0, what: "start_timeout", reader: reader) } ?? .seconds(10)
        let concurrency = top["concurrency"].map { reader.integer($0, what: "concurrency", in: 1...64) } ?? 1
        let fields = top["config"].map { self.fields($0, reader: reader) } ?? []
        guard let name, let kind, let description, let command, let timeout, let startTimeout, let concurrency, let fields,
            !reader.hasErrors
        else { return nil }
        return PluginManifest(
            name: name, kind: kind, description: description, command: command, config: fields, timeout: timeout,
            startTimeout: startTimeout, concurrency: concurrency, directory: directory, file: file)
    }

    private static func positiveDuration(_ node: YAMLNode, what: String, reader: ConfigReader) -> Duration? {
        guard let duration = reader.duration(node, what: what, maximum: .maximumWait) else { return nil }
        guard duration > .zero else {
            reader.error("\(what) must be longer than 0", at: node)
            return nil
        }
        return duration
    }

    /// `command:` must be an argv list whose program can be found: a path inside the plugin
    /// folder, or a name on `PATH`.
    private static func command(_ node: YAMLNode, directory: String, reader: ConfigReader, environment: [String: String]) -> [String]? {
        guard case .sequence(let items) = node.content else {
            reader.error("command must be a list (an argv, run in the plugin folder), e.g. [python3, plugin.py]; not \(node.kindName)", at: node)
            return nil
        }
        guard !items.isEmpty else {
            reader.error("command is empty; give the program and its arguments, e.g. [python3, plugin.py]", at: node)
            return nil
        }
        var argv: [String] = []
        for item in items {
            guard let text = reader.literal(item, what: "each item of command") else { return nil }
            argv.append(text)
        }
        let program = argv[0]
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : (directory as NSString).appendingPathComponent(program)
            if !FileManager.default.isExecutableFile(atPath: path) {
                let exists = FileManager.default.fileExists(atPath: path)
                reader.error(
                    exists
                        ? "command '\(program)' is not executable; run chmod +x on it, or start it through its interpreter, e.g. [python3, \(program)]"
                        : "command '\(program)' does not exist in the plugin folder",
                    at: items[0])
                return nil
            }
        } else if findOnPath(program, environment: environment) == nil {
            reader.error("command '\(program)' is not found on PATH", at: items[0])
            return nil
        }
        return argv
    }

    /// The executable `program` resolves to on `PATH`, if any.
    static func findOnPath(_ program: String, environment: [String: String]) -> String? {
        let path = environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func fields(_ node: YAMLNode, reader: ConfigReader) -> [PluginConfigField]? {
        guard let mapping = reader.mapping(node, allowedKeys: nil, in: "config") else { return nil }
        var fields: [PluginConfigField] = []
        let problemsBefore = reader.problemCount
        for entry in mapping.entries {
            guard let options = reader.mapping(entry.value, allowedKeys: fieldKeys, in: "config field '\(entry.key)'") else { continue }
            guard reader.require(["type"], in: options, context: "config field '\(entry.key)'"),
                let typeName = reader.literal(options["type"]!, what: "type")
            else { continue }
            guard let type = PluginConfigField.FieldType(rawValue: typeName) else {
                let names = PluginConfigField.FieldType.allCases.map(\.rawValue)
                reader.error(
                    "unknown config type '\(typeName)'\(Suggestion.didYouMean(typeName, in: names)); expected one of: \(names.joined(separator: ", "))",
                    at: options["type"]!)
                continue
            }
            let required = options["required"].flatMap { reader.bool($0, what: "required") } ?? false
            let description = options["description"].flatMap { reader.literal($0, what: "description") } ?? ""
            var field = PluginConfigField(name: entry.key, type: type, required: required, description: description)
            if let defaultNode = options["default"] {
                if required {
                    reader.error("config field '\(entry.key)' is required, so its default would never be used; remove one of them", at: defaultNode)
                    continue
                }
                guard let value = field.value(from: defaultNode, reader: reader, what: "the default of '\(entry.key)'") else { continue }
                field.defaultValue = value
            }
            fields.append(field)
        }
        return reader.problemCount == problemsBefore ? fields : nil
    }
}
