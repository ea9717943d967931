import Foundation

/// What a pipeline routes and how, in comparable text: the loaded definition (events expanded
/// against the catalogue, retry policies, targets as written) plus what only the file says
/// (step options, secret variable names, the `where` expression). ``PipelineDiff`` compares two.
public struct PipelineSnapshot: Sendable {
    public var name: String
    public var file: String
    /// The source, as flow YAML.
    public var source: String
    /// The catalogue event types the filter accepts.
    public var events: [String]
    /// `filter.where` as written, on one line; `nil` without one.
    public var whereExpression: String?
    /// `filter.where` in ``WhereExpression/canonical`` form, for comparing.
    public var whereCanonical: String?
    /// Each transform step as one line of flow YAML.
    public var steps: [String]
    /// `sign.scheme`, when the pipeline signs.
    public var scheme: String?
    /// Variable names the secrets come from, in order (`${NAME}` in `sign.secrets`), and
    /// `file:PATH` for `sign.secret_file`. Never a value.
    public var secrets: [String]
    public var sinks: [Sink]

    /// One sink.
    public struct Sink: Sendable {
        public var name: String
        public var kind: String
        /// The URL, path or plugin as written (variables not expanded).
        public var target: String
        public var retry: RetryPolicy
        /// Every other option, key and flow YAML value, in file order.
        public var options: [(key: String, value: String)]
    }

    /// The snapshot of `pipeline`, reading its file again for what only the file says.
    public init(_ pipeline: PipelineDefinition) {
        name = pipeline.name
        file = pipeline.file
        events = pipeline.filter.acceptedTypes
        scheme = pipeline.signing?.schemeName
        let root = FileManager.default.contents(atPath: pipeline.file)
            .flatMap { String(validating: Array($0), as: UTF8.self) }
            .flatMap { try? YAMLDocument.parse($0, path: pipeline.file).first }
        source = root?.value(forKey: "source")?.flowText ?? pipeline.source.identity
        whereExpression = pipeline.filter.condition?.singleLine
        whereCanonical = pipeline.filter.condition?.canonical
        // A step reads as written, `redact: [data.email]`, without the braces of its item.
        steps = root?.value(forKey: "transform")?.sequence?.map { item in
            item.mapping.map { pairs in pairs.map { "\($0.key.flowText): \($0.value.flowText)" }.joined(separator: ", ") } ?? item.flowText
        } ?? pipeline.steps.map(\.name)
        secrets = []
        if let sign = root?.value(forKey: "sign") {
            for item in sign.value(forKey: "secrets").map({ $0.sequence ?? [$0] }) ?? [] {
                secrets += Self.variableNames(in: item.scalar ?? "")
            }
            if let file = sign.value(forKey: "secret_file")?.scalar { secrets.append("file:\(file)") }
        }
        let sinkNodes = root?.value(forKey: "sinks")
        sinks = pipeline.sinks.map { sink in
            let node = sinkNodes?.value(forKey: sink.name)
            let skipped: Set<String> = ["type", "retry", Self.targetKey(sink.sink.kind)]
            let options = (node?.mapping ?? []).compactMap { pair -> (key: String, value: String)? in
                guard let key = pair.key.scalar, !skipped.contains(key) else { return nil }
                return (key, pair.value.flowText)
            }
            return Sink(name: sink.name, kind: sink.sink.kind, target: sink.sink.target, retry: sink.retry, options: options)
        }
    }

    /// The option that names a sink's target: `url`, `path` or `plugin`.
    public static func targetKey(_ kind: String) -> String {
        switch kind {
        case "http": "url"
        case "file": "path"
        case "plugin": "plugin"
        default: "target"
        }
    }

    /// The names of the `${NAME}` and `${NAME:-default}` references in `text`.
    static func variableNames(in text: String) -> [String] {
        var names: [String] = []
        var rest = text[...]
        while let start = rest.range(of: "${") {
            rest = rest[start.upperBound...]
            guard let end = rest.firstIndex(of: "}") else { break }
            let body = rest[..<end]
            names.append(String(body.range(of: ":-").map { body[..<$0.lowerBound] } ?? body))
            rest = rest[end...]
        }
        return names
    }
}

extension YAMLNode {
    /// The node as one line of flow YAML, `{ key: value, list: [a, b] }` style, whatever style
    /// it was written in: two spellings of the same value read the same.
    public var flowText: String {
        switch content {
        case .scalar(let text, _):
            let plain = !text.isEmpty && text == text.trimmingCharacters(in: .whitespaces)
                && !text.contains(where: { ",:[]{}#&*!|>'\"%@`\n\\".contains($0) })
            if plain { return text }
            var bytes: [UInt8] = []
            JSONValue.appendJSONString(text, to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        case .sequence(let items):
            return "[" + items.map(\.flowText).joined(separator: ", ") + "]"
        case .mapping(let pairs):
            return "{" + pairs.map { "\($0.key.flowText): \($0.value.flowText)" }.joined(separator: ", ") + "}"
        }
    }
}
