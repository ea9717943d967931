import Foundation

/// Reads a pipeline test file: which pipeline it tests and its test cases.
///
/// ```yaml
/// pipeline: notifications            # default: the file's name
/// tests:
///   - name: points earned becomes a push
///     input:                         # inline events; or input_file: ../events/sample.jsonl
///       - { event_type: points.earned, data: { customer_id: c1, points: 150 } }
///     expect:
///       push:
///         - data: { points: 150, channel: push }
///           headers: { X-Loyali-Event: points.earned }
///       audit: none                  # no delivery
/// ```
public enum PipelineTestFile {
    static let topLevelKeys = ["pipeline", "tests"]
    static let testKeys = ["name", "input", "input_file", "expect", "expect_failure"]
    static let deliveryKeys = ["body", "id", "event_type", "created_at", "data", "headers"]

    /// Whether `path` is a pipeline test file: a YAML file inside a `tests` folder.
    public static func isTestFile(_ path: String) -> Bool {
        (path.hasSuffix(".yaml") || path.hasSuffix(".yml")) && (path as NSString).pathComponents.dropLast().contains("tests")
    }

    /// The test cases of the file at `path`, and every problem found in it.
    public static func load(path: String) -> ([PipelineTestCase], [Diagnostic]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            return ([], [Diagnostic(.error, at: nil, "\(path): cannot be read")])
        }
        guard let text = String(validating: Array(data), as: UTF8.self) else {
            return ([], [Diagnostic(.error, at: nil, "\(path): is not valid UTF-8")])
        }
        return load(path: path, text: text)
    }

    /// The test cases in `text`, the contents of the file at `path`.
    public static func load(path: String, text: String) -> ([PipelineTestCase], [Diagnostic]) {
        let documents: [YAMLNode]
        do {
            documents = try YAMLDocument.parse(text, path: path)
        } catch {
            return ([], [error])
        }
        let reader = ConfigReader(
            path: path, text: text, interpolator: VariableInterpolator(environment: [:]), registry: StageRegistry(),
            plugins: PluginCatalog(environment: [:]))
        guard let root = documents.first else {
            return ([], [Diagnostic(.error, at: SourceLocation(path: path, line: 1, column: 1), "the test file is empty; expected 'tests:'")])
        }
        var cases: [PipelineTestCase] = []
        if let top = reader.mapping(root, allowedKeys: topLevelKeys, in: "a pipeline test file"), reader.require(["tests"], in: top, context: "the test file") {
            let pipeline = top["pipeline"].flatMap { reader.literal($0, what: "pipeline") } ?? PipelineLoader.defaultName(for: path)
            if let items = top["tests"]?.sequence {
                if items.isEmpty { reader.error("tests is empty; add at least one test", at: top["tests"]!) }
                for item in items {
                    if let test = testCase(item, pipeline: pipeline, path: path, reader: reader) { cases.append(test) }
                }
            } else if let node = top["tests"] {
                reader.error("tests must be a list of tests, each with name, input and expect", at: node)
            }
        }
        let diagnostics = reader.diagnostics
        return (diagnostics.contains { $0.severity == .error } ? [] : cases, diagnostics)
    }

    private static func testCase(_ item: YAMLNode, pipeline: String, path: String, reader: ConfigReader) -> PipelineTestCase? {
        guard let mapping = reader.mapping(item, allowedKeys: testKeys, in: "a test"),
            reader.require(["name"], in: mapping, context: "the test"),
            let name = reader.literal(mapping["name"]!, what: "name")
        else { return nil }
        let before = reader.problemCount
        var events: [PipelineTestCase.Event] = []
        if let input = mapping["input"] {
            let items = input.sequence ?? [input]
            for event in items {
                // Events are written as objects; a string is taken as a raw JSON line, so a test can
                // also feed a malformed one.
                if let text = event.scalar {
                    events.append(PipelineTestCase.Event(line: Array(text.utf8), location: event.location))
                } else if let value = reader.jsonValue(event, what: "an input event", interpolate: false) {
                    var line: [UInt8] = []
                    value.serialize(into: &line)
                    events.append(PipelineTestCase.Event(line: line, location: event.location))
                }
            }
        }
        if let fileNode = mapping["input_file"], let file = reader.literal(fileNode, what: "input_file") {
            let resolved = file.hasPrefix("/") ? file : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(file)
            if let contents = FileManager.default.contents(atPath: resolved) {
                var number = 0
                for line in contents.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                    number += 1
                    var bytes = Array(line)
                    if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
                    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                    events.append(PipelineTestCase.Event(line: bytes, location: SourceLocation(path: resolved, line: number, column: 1)))
                }
            } else {
                reader.error("input_file '\(file)' cannot be read (looked for \(resolved))", at: fileNode)
            }
        }
        if mapping["input"] == nil, mapping["input_file"] == nil {
            reader.error("the test '\(name)' has no input; add input: [events…] or input_file: FILE", at: mapping["name"]!)
        }
        var sinks: [PipelineTestCase.SinkExpectation] = []
        if let expectNode = mapping["expect"], let expect = reader.mapping(expectNode, allowedKeys: nil, in: "expect") {
            for entry in expect.entries {
                if let deliveries = self.deliveries(entry.value, sink: entry.key, reader: reader) {
                    sinks.append(PipelineTestCase.SinkExpectation(sink: entry.key, location: entry.keyNode.location, deliveries: deliveries))
                }
            }
        }
        var failure: PipelineTestCase.ExpectedFailure?
        if let node = mapping["expect_failure"], let reason = reader.literal(node, what: "expect_failure") {
            failure = PipelineTestCase.ExpectedFailure(reason: reason, location: node.location)
        }
        if mapping["expect"] == nil, mapping["expect_failure"] == nil {
            reader.error("the test '\(name)' checks nothing; add expect: { SINK: [deliveries…] | none } or expect_failure: REASON", at: mapping["name"]!)
        }
        guard reader.problemCount == before else { return nil }
        return PipelineTestCase(
            name: name, location: item.location, pipeline: pipeline, events: events, sinks: sinks, expectedFailure: failure)
    }

    /// A sink's expected deliveries: `none` (or `[]`) for no delivery, else a list of
    /// expectations (a single one may be written without the list).
    private static func deliveries(_ node: YAMLNode, sink: String, reader: ConfigReader) -> [PipelineTestCase.ExpectedDelivery]? {
        if let text = node.scalar {
            guard text == "none" else {
                reader.error("expect.\(sink) must be 'none' or a list of expected deliveries, not '\(text)'", at: node)
                return nil
            }
            return []
        }
        var result: [PipelineTestCase.ExpectedDelivery] = []
        for item in node.sequence ?? [node] {
            guard let mapping = reader.mapping(item, allowedKeys: deliveryKeys, in: "an expected delivery of '\(sink)'") else { return nil }
            var delivery = PipelineTestCase.ExpectedDelivery(location: item.location, body: nil, fields: JSONObject(), headers: [])
            for entry in mapping.entries {
                switch entry.key {
                case "headers":
                    guard let headers = reader.mapping(entry.value, allowedKeys: nil, in: "headers") else { return nil }
                    for header in headers.entries {
                        guard let value = reader.literal(header.value, what: "header \(header.key)") else { return nil }
                        delivery.headers.append((header.key, value, header.keyNode.location))
                    }
                case "body":
                    if let text = entry.value.scalar, entry.value.tag == nil, case .scalar(_, let style) = entry.value.content, style != .plain {
                        // A quoted body is the exact JSON text.
                        do {
                            delivery.body = try JSONParser.parse(text)
                        } catch {
                            reader.error("body is not valid JSON: \(error.reason)", at: entry.value)
                            return nil
                        }
                    } else {
                        guard let value = reader.jsonValue(entry.value, what: "body", interpolate: false) else { return nil }
                        delivery.body = value
                    }
                default:
                    guard let value = reader.jsonValue(entry.value, what: entry.key, interpolate: false) else { return nil }
                    delivery.fields[entry.key] = value
                }
            }
            if delivery.body != nil, let other = mapping.entries.first(where: { $0.key != "body" && $0.key != "headers" }) {
                reader.error("'\(other.key)' beside 'body': body is the whole delivery already; use one or the other", at: other.keyNode)
                return nil
            }
            result.append(delivery)
        }
        return result
    }
}
