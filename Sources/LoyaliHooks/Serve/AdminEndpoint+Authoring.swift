import Foundation

/// The dashboard's "new subscription" support: validating pipeline YAML the browser built, and
/// previewing the exact signed request it would send. Nothing is written to disk.
extension AdminEndpoint {
    /// Placeholder values for `${VAR}` references serve's environment does not define, so a draft
    /// can be checked and previewed before its variables are deployed.
    static let placeholderSecret = "whsec_cHJldmlldy1vbmx5LW5vdC1hLXJlYWwtc2VjcmV0LTA="

    /// The YAML text, its file name and the environment to read it with: serve's own, plus a
    /// placeholder for each variable it lacks (each named in a warning).
    private func draft(_ request: HTTPServerRequest) throws -> (file: String, text: String, environment: [String: String], warnings: [JSONValue]) {
        let object = try Self.bodyObject(request)
        let known = ["yaml", "file", "event"]
        for member in object.members where !known.contains(member.key) {
            throw BadRequest("unknown field '\(member.key)'\(Suggestion.didYouMean(member.key, in: known))")
        }
        guard let text = try Self.string(object["yaml"], "yaml") else { throw BadRequest("give the pipeline as {\"yaml\": \"pipeline: …\"}") }
        var file = try Self.string(object["file"], "file") ?? "pipelines/new-subscription.yaml"
        if file.isEmpty || file.utf8.count > 200 || file.contains("\n") { file = "pipelines/new-subscription.yaml" }
        var environment = context.environment
        var warnings: [JSONValue] = []
        for name in Self.referencedVariables(text) where environment[name] == nil {
            let upper = name.uppercased()
            environment[name] = upper.contains("URL") ? "https://example.invalid/webhooks" : Self.placeholderSecret
            warnings.append(.string(
                "${\(name)} is not set in serve's environment: checked and previewed with a placeholder; set it where the pipeline runs"))
        }
        return (file, text, environment, warnings)
    }

    /// The `${NAME}` and `${NAME:-default}` names in `text` (defaults need no placeholder).
    static func referencedVariables(_ text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            rest = rest[open.upperBound...]
            guard let close = rest.firstIndex(of: "}") else { break }
            let body = rest[..<close]
            rest = rest[rest.index(after: close)...]
            if body.contains(":-") { continue }
            let name = String(body)
            if VariableInterpolator.isValidName(name), !names.contains(name) { names.append(name) }
        }
        return names
    }

    private func diagnosticsJSON(_ diagnostics: [Diagnostic]) -> JSONValue {
        .array(diagnostics.map { diagnostic in
            var object = JSONObject()
            object["severity"] = .string(diagnostic.severity.rawValue)
            object["path"] = diagnostic.location.map { .string($0.path) } ?? .null
            object["line"] = diagnostic.location.map { .number(JSONNumber(Int64($0.line))) } ?? .null
            object["column"] = diagnostic.location.map { .number(JSONNumber(Int64($0.column))) } ?? .null
            object["message"] = .string(diagnostic.message)
            object["text"] = .string(diagnostic.headline)
            return .object(object)
        })
    }

    /// `POST /api/validate`: `{"yaml": "…", "file": "pipelines/x.yaml"}` → `{"ok", "diagnostics": [{"path", "line", "column",
    /// "severity", "message", "text"}], "warnings", "pipeline"}`. 200 whether or not the YAML is valid.
    func validate(_ request: HTTPServerRequest) -> HTTPServerResponse {
        do {
            let draft = try draft(request)
            let (loaded, diagnostics) = PipelineLoader(environment: draft.environment).load(file: draft.file, text: draft.text)
            var object = JSONObject()
            object["ok"] = .bool(loaded != nil && !diagnostics.contains { $0.severity == .error })
            object["diagnostics"] = diagnosticsJSON(diagnostics)
            object["warnings"] = .array(draft.warnings)
            object["pipeline"] = loaded.map { .object(DeliveryJSON.pipeline($0.0)) } ?? .null
            return .json(200, object)
        } catch let error as BadRequest {
            return .error(400, "invalid_parameter", error.message)
        } catch {
            return .error(400, "invalid_parameter", "\(error)")
        }
    }

    /// `POST /api/preview`: `{"yaml", "file", "event"}` → the exact request each sink would get
    /// for the catalogue's sample of `event` (default: the first type the pipeline takes), signed
    /// now; configured headers show their `${VAR}` references, never the values. Sends nothing.
    func preview(_ request: HTTPServerRequest) -> HTTPServerResponse {
        do {
            let draft = try draft(request)
            let eventName = try Self.string(try Self.bodyObject(request)["event"], "event")
            let (loaded, diagnostics) = PipelineLoader(environment: draft.environment).load(file: draft.file, text: draft.text)
            guard let pipeline = loaded?.0 else {
                return .error(
                    422, "invalid_configuration", "the pipeline has errors; fix them to preview it",
                    extra: [JSONObject.Member(key: "diagnostics", value: diagnosticsJSON(diagnostics))])
            }
            let name = eventName ?? EventCatalogue.names.first { pipeline.filter.accepts($0) }
            guard let name, let type = EventCatalogue.type(named: name) else {
                throw BadRequest("unknown event type '\(eventName ?? "")'\(Suggestion.didYouMean(eventName ?? "", in: EventCatalogue.names))")
            }
            let requests: [(SinkDefinition, DeliveryRequest)]
            do {
                requests = try SampleSend.requests(type, through: pipeline, timestamp: context.clock.nowMs() / 1000, forDisplay: true)
            } catch {
                return .error(422, "not_previewable", error.message)
            }
            var object = JSONObject()
            object["pipeline"] = .string(pipeline.name)
            object["event_type"] = .string(type.name)
            object["warnings"] = .array(draft.warnings)
            object["requests"] = .array(requests.map { sink, request in
                .object(JSONObject([
                    "sink": .string(sink.name), "type": .string(sink.sink.kind), "target": .string(sink.sink.target),
                    "headers": .array(request.headers.map { .object(JSONObject(["name": .string($0.name), "value": .string($0.value)])) }),
                    "body": .string(String(decoding: request.body, as: UTF8.self)),
                ]))
            })
            return .json(200, object)
        } catch let error as BadRequest {
            return .error(400, "invalid_parameter", error.message)
        } catch {
            return .error(400, "invalid_parameter", "\(error)")
        }
    }

    /// `GET /api/events`: the catalogue, for the dashboard's event pickers.
    func catalogue() -> HTTPServerResponse {
        .json(200, JSONObject([
            "event_types": .array(EventCatalogue.all.map { type in
                .object(JSONObject(["name": .string(type.name), "group": .string(type.group), "summary": .string(type.summary)]))
            })
        ]))
    }
}
