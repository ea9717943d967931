/// Reads typed values out of the YAML nodes of one pipeline file and collects every problem it
/// finds, so that `validate` reports all of them at once, each as `path:line:col: error: …`.
///
/// Stage factories (sinks, sources, transform steps) receive a reader and use it for their own
/// options, which keeps the error style identical across the whole file.
public final class ConfigReader {
    /// The pipeline file's path as the user gave it.
    public let path: String
    /// Expands `${VAR}` references in values.
    public let interpolator: VariableInterpolator
    /// What an undefined variable without default does in a secret, a token, a header or a
    /// sink URL (see ``sensitiveExpansion(_:what:kind:)``): an error, except in `validate`.
    public var undefinedSensitiveVariables: UndefinedVariables = .error
    /// The stages that sinks, sources and steps are looked up in.
    public let registry: StageRegistry
    /// The plugins that `plugin` steps and sinks are looked up in.
    public let plugins: PluginCatalog
    /// Every problem found so far, in the order found.
    public var diagnostics: [Diagnostic] {
        recorded.map { record in
            var shown = record.diagnostic
            // Any message may quote a value that turned out to be a secret: a YAML alias of a
            // literal token under another key, a variable's value that another field reused.
            shown.message = hidden.apply(shown.message)
            if record.quotesLine, let location = shown.location {
                shown.excerpt = excerpt(at: location)
            } else if let excerpt = shown.excerpt, !hidden.isEmpty {
                shown.excerpt = SourceExcerpt(text: hidden.apply(excerpt.text), caretColumn: excerpt.caretColumn)
            }
            return shown
        }
    }
    /// Diagnostics and whether to quote this file's line under them. The line is quoted when the
    /// diagnostics are read, so every literal secret found by then is masked, including in
    /// errors recorded before the secret was found.
    private var recorded: [(diagnostic: Diagnostic, quotesLine: Bool)] = []
    /// How many of `recorded` are errors.
    private var errorCount = 0
    /// Secrets found in this file, literal or taken from the environment, masked in every
    /// diagnostic when the diagnostics are read.
    private var hidden = TextRedaction()
    /// Literal secrets of any length: masked in quoted lines of the file, which show them as
    /// written even when they are too short for ``hidden``.
    private var literalSecrets: [String] = []
    /// The file's lines, for quoting and for placing offsets inside scalars.
    let source: SourceText

    /// Creates a reader for the file at `path` whose text is `text`.
    /// `plugins` defaults to the plugins folder the interpolator's environment names.
    public init(path: String, text: String, interpolator: VariableInterpolator, registry: StageRegistry, plugins: PluginCatalog? = nil) {
        self.path = path
        self.source = SourceText(text)
        self.interpolator = interpolator
        self.registry = registry
        self.plugins = plugins ?? PluginCatalog(environment: interpolator.environment)
    }

    // MARK: Reporting

    /// Records an error at `location`, with the source line for the caret.
    public func error(_ message: String, at location: SourceLocation) {
        record(Diagnostic(.error, at: location, message), quotesLine: true)
    }

    /// The quoted source at `location`, literal secrets found so far masked: for diagnostics made
    /// later (a plugin that fails to start is reported at the step that names it).
    public func excerpt(at location: SourceLocation) -> SourceExcerpt? {
        guard let line = source.line(location.line) else { return nil }
        let masked = literalSecrets.reduce(hidden.apply(line)) { $0.replacing($1, with: String(repeating: "*", count: min($1.count, 8))) }
        return SourceExcerpt(line: masked, column: location.column)
    }

    /// Records a diagnostic made elsewhere, e.g. one in a plugin manifest the file refers to.
    public func report(_ diagnostic: Diagnostic) {
        record(diagnostic, quotesLine: false)
    }

    /// Records an error at `node`.
    public func error(_ message: String, at node: YAMLNode) {
        error(message, at: node.location)
    }

    /// Records an error about a secret written into the file. The secret is masked wherever a
    /// diagnostic of this file shows it, quoted line or message: an error must not spread the
    /// secret any further.
    public func secretError(_ message: String, at node: YAMLNode, secret: String) {
        if !secret.isEmpty { literalSecrets.append(secret) }
        hide(secret, shownAs: String(repeating: "*", count: min(secret.count, 8)))
        error(message, at: node)
    }

    /// Masks `secret` in every diagnostic of this file, recorded before or after.
    public func hide(_ secret: String, shownAs: String) {
        hidden.add(TextRedaction.Replacement(hidden: secret, shownAs: shownAs))
    }

    /// Masks the environment values `expansion` took in, shown as their `${NAME}`, in every
    /// diagnostic of this file: for values that are secrets (tokens, signing secrets, header
    /// values, a sink URL's parts), which another field's error might otherwise quote.
    public func hideValues(of expansion: VariableInterpolator.Expansion) {
        for substitution in expansion.substitutions { hidden.add(substitution) }
    }

    /// How a message quotes the value of `node`: as written when it has `${VAR}` references, so
    /// an error about a value never prints what the environment put in it.
    public func quoted(_ node: YAMLNode, _ value: String) -> String {
        if let written = node.scalar, written.contains("${") { return "'\(written)'" }
        return "'\(value)'"
    }

    /// The number of errors recorded so far; a stage compares it before and after reading its
    /// own options to know whether they were sound, without being blocked by unrelated errors.
    /// Warnings do not count: a value checked with a warning (an undefined secret in `validate`)
    /// is sound.
    public var problemCount: Int { errorCount }
    /// Whether the pipeline depends on files other than its own (a `sign.secret_file`, a
    /// plugin's manifest), so an unchanged pipeline file does not mean an unchanged pipeline
    /// (see ``PipelineFileCache``).
    public private(set) var readsOtherFiles = false

    /// Notes that the pipeline read a file other than its own.
    public func noteReadsOtherFiles() { readsOtherFiles = true }

    private func record(_ diagnostic: Diagnostic, quotesLine: Bool) {
        recorded.append((diagnostic, quotesLine))
        if diagnostic.severity == .error { errorCount += 1 }
    }

    /// Records a warning at `node`.
    public func warning(_ message: String, at node: YAMLNode) {
        warning(message, at: node.location)
    }

    /// Records a warning at `location`, with the source line for the caret.
    public func warning(_ message: String, at location: SourceLocation) {
        record(Diagnostic(.warning, at: location, message), quotesLine: true)
    }

    /// Whether any error (not warning) has been recorded.
    public var hasErrors: Bool { errorCount > 0 }

    // MARK: Mappings

    /// Reads `node` as a mapping whose keys must come from `allowedKeys`. Unknown keys (with a
    /// "did you mean") and duplicate keys are reported; the first occurrence of a key is kept.
    /// Returns `nil`, after reporting, when `node` is not a mapping. `nameNode` is the key that
    /// names the mapping, if any, for errors about the mapping as a whole.
    public func mapping(_ node: YAMLNode, allowedKeys: [String]?, in context: String, nameNode: YAMLNode? = nil) -> ConfigMapping? {
        guard case .mapping(let pairs) = node.content else {
            error("\(context) must be a mapping, not \(node.kindName)", at: node)
            return nil
        }
        var entries: [ConfigMapping.Entry] = []
        var firstSeen: [String: SourceLocation] = [:]
        for pair in pairs {
            guard case .scalar(let key, _) = pair.key.content else {
                error("keys in \(context) must be plain strings, not \(pair.key.kindName)", at: pair.key)
                continue
            }
            if let previous = firstSeen[key] {
                error("duplicate key '\(key)' in \(context); first defined at line \(previous.line), column \(previous.column)", at: pair.key)
                continue
            }
            firstSeen[key] = pair.key.location
            if let allowedKeys, !allowedKeys.contains(key) {
                reportUnknownKey(key, at: pair.key, allowedKeys: allowedKeys, in: context)
                continue
            }
            entries.append(ConfigMapping.Entry(key: key, keyNode: pair.key, value: pair.value))
        }
        return ConfigMapping(node: node, nameNode: nameNode, entries: entries)
    }

    /// Reports each key of `mapping` (already read) that is not in `allowedKeys`: for a sink or
    /// source whose `type` is unknown, the keys that no type accepts are mistakes all the same.
    public func checkKeys(of mapping: ConfigMapping, allowedKeys: [String], in context: String) {
        for entry in mapping.entries where !allowedKeys.contains(entry.key) {
            reportUnknownKey(entry.key, at: entry.keyNode, allowedKeys: allowedKeys, in: context)
        }
    }

    private func reportUnknownKey(_ key: String, at node: YAMLNode, allowedKeys: [String], in context: String) {
        let hint = Suggestion.didYouMean(key, in: allowedKeys)
        let known = hint.isEmpty ? "; expected one of: \(allowedKeys.joined(separator: ", "))" : hint
        error("unknown key '\(key)' in \(context)\(known)", at: node)
    }

    /// Reports each of `keys` that `mapping` lacks.
    @discardableResult
    public func require(_ keys: [String], in mapping: ConfigMapping, context: String) -> Bool {
        var ok = true
        for key in keys where mapping[key] == nil {
            error("\(context) is missing required key '\(key)'", at: mapping.nameNode ?? mapping.node)
            ok = false
        }
        return ok
    }

    // MARK: Scalars

    /// The scalar text of `node` without interpolation (for names, types and keys).
    public func literal(_ node: YAMLNode, what: String) -> String? {
        guard case .scalar(let text, _) = node.content else {
            error("\(what) must be a string, not \(node.kindName)", at: node)
            return nil
        }
        return text
    }

    /// The scalar text of `node` with `${VAR}` references expanded.
    public func string(_ node: YAMLNode, what: String) -> String? {
        expansion(node, what: what)?.value
    }

    /// Expands `node` and also says whether it referenced variables or held literal text.
    public func expansion(_ node: YAMLNode, what: String) -> VariableInterpolator.Expansion? {
        guard case .scalar(let text, let style) = node.content else {
            error("\(what) must be a string, not \(node.kindName)", at: node)
            return nil
        }
        switch interpolator.expand(text) {
        case .success(let expansion):
            return expansion
        case .failure(let failure):
            error(failure.message, at: referenceLocation(in: node, text: text, style: style, offset: failure.offset))
            return nil
        }
    }

    /// Where the `${` at character `offset` of a scalar's value sits in the file. Escapes in quoted
    /// scalars make value offsets differ from file columns, so the reference is looked up in the
    /// source line as written; the node's own location is the fallback.
    func referenceLocation(in node: YAMLNode, text: String, style: YAMLNode.ScalarStyle, offset: Int) -> SourceLocation {
        var location = node.location
        let characters = Array(text)
        guard !text.contains("\n"), let line = source.line(location.line).map(Array.init) else { return location }
        if style == .plain {
            location.column += offset
            return location
        }
        // The same reference text, counted from the node's start on the written line. Only its
        // first `referencePrefix` characters are compared, so an unterminated `${` in a long value
        // costs linear time, not a comparison of the rest of the value at every position.
        let whole = characters[offset...].prefix { $0 != "}" }
        let reference = whole.count < Self.referencePrefix ? Array(whole) + ["}"] : Array(whole.prefix(Self.referencePrefix))
        var occurrence = 0
        for start in 0..<offset where Self.matches(reference, in: characters, at: start) { occurrence += 1 }
        var seen = 0
        var column = max(0, location.column - 1)
        while column + reference.count <= line.count {
            if Self.matches(reference, in: line, at: column) {
                if seen == occurrence {
                    location.column = column + 1
                    return location
                }
                seen += 1
            }
            column += 1
        }
        return location
    }

    /// How much of a `${…}` reference ``referenceLocation(in:text:style:offset:)`` compares.
    static let referencePrefix = 64

    /// Whether `needle` occurs in `haystack` at `start`, compared in place.
    private static func matches(_ needle: [Character], in haystack: [Character], at start: Int) -> Bool {
        guard start + needle.count <= haystack.count else { return false }
        for index in needle.indices where haystack[start + index] != needle[index] { return false }
        return true
    }

    /// A boolean: `true` or `false`.
    public func bool(_ node: YAMLNode, what: String) -> Bool? {
        guard let text = string(node, what: what) else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            error("\(what) must be true or false, not \(quoted(node, text))", at: node)
            return nil
        }
    }

    /// An integer within `range`.
    public func integer(_ node: YAMLNode, what: String, in range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, what: what) else { return nil }
        guard let value = Int(text) else {
            error("\(what) must be an integer, not \(quoted(node, text))", at: node)
            return nil
        }
        guard range.contains(value) else {
            error("\(what) must be between \(range.lowerBound) and \(range.upperBound), not \(value)", at: node)
            return nil
        }
        return value
    }

    /// A duration such as `500ms`, `10s`, `5m`, `2h`, `1d`, at most `maximum` (the documented
    /// limit for the key: `Duration.maximumWait` for timeouts, `Duration.maximumRetryDelay` by default).
    public func duration(_ node: YAMLNode, what: String, maximum: Duration = .maximumRetryDelay) -> Duration? {
        guard let text = string(node, what: what) else { return nil }
        switch Duration.parse(config: text, maximum: maximum) {
        case .success(let duration):
            return duration
        case .failure(.malformed):
            error("\(what) must be a duration such as 500ms, 10s, 5m, 2h or 1d, not \(quoted(node, text))", at: node)
        case .failure(.tooLong(let maximum)):
            error("\(what) must be at most \(maximum.configDescription), not \(quoted(node, text))", at: node)
        }
        return nil
    }

    /// A list of strings; a single scalar counts as a one-item list. Each item keeps its node so
    /// later checks can point at it.
    public func stringList(_ node: YAMLNode, what: String, interpolate: Bool = true) -> [(String, YAMLNode)]? {
        let items: [YAMLNode]
        switch node.content {
        case .scalar: items = [node]
        case .sequence(let nodes): items = nodes
        case .mapping:
            error("\(what) must be a list of strings, not a mapping", at: node)
            return nil
        }
        var result: [(String, YAMLNode)] = []
        for item in items {
            let text = interpolate ? string(item, what: "each item of \(what)") : literal(item, what: "each item of \(what)")
            if let text { result.append((text, item)) }
        }
        return result
    }

    /// Reads `node` as a mapping with exactly one key (a transform step such as `- redact: [...]`).
    public func singleKey(_ node: YAMLNode, what: String) -> (key: String, keyNode: YAMLNode, value: YAMLNode)? {
        guard case .mapping(let pairs) = node.content, pairs.count == 1,
            case .scalar(let key, _) = pairs[0].key.content
        else {
            error("\(what) must be a mapping with one key naming the step, e.g. '- redact: [data.customer_email]'", at: node)
            return nil
        }
        return (key, pairs[0].key, pairs[0].value)
    }
}
