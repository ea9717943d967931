import LoyaliHooks

/// Shared renderings of diagnostics and pipelines for the commands.
enum Reports {
    /// A durable run's closing counts, as `run` and `serve` print them on stderr.
    static func countersLine(_ counters: DeliveryRunner.Counters) -> String {
        "\(Plural.count(counters.eventsRead, "event")) read, \(counters.rejected) rejected, "
            + "\(Plural.count(counters.enqueued, "delivery", "deliveries")) queued, \(counters.delivered) delivered, "
            + "\(Plural.count(counters.retriesScheduled, "retry", "retries")) scheduled, \(counters.failed) failed"
            + (counters.failedByTransforms > 0 ? " (\(counters.failedByTransforms) by transform steps)" : "")
            + (counters.sourcesFailed > 0 ? ", \(Plural.count(counters.sourcesFailed, "source")) failed" : "")
    }

    /// Prints diagnostics: compiler-style on stderr, or JSON lines on stdout.
    static func diagnostics(_ diagnostics: [Diagnostic], json: Bool) {
        for diagnostic in diagnostics {
            if json {
                var object = JSONObject()
                object["severity"] = .string(diagnostic.severity.rawValue)
                if let location = diagnostic.location {
                    object["file"] = .string(location.path)
                    object["line"] = .number(JSONNumber(Int64(location.line)))
                    object["column"] = .number(JSONNumber(Int64(location.column)))
                }
                object["message"] = .string(diagnostic.message)
                Terminal.out(JSONValue.object(object).serializedString)
            } else {
                Terminal.err(diagnostic.description)
            }
        }
    }

    /// `✓ fulfillment (pipelines/fulfillment.yaml): file:… → 3 types → warehouse (http), audit (file)`
    static func pipelineSummary(_ pipeline: PipelineDefinition) -> String {
        let types = pipeline.filter.acceptedTypes
        let sinks = pipeline.sinks.map { "\($0.name) (\($0.sink.kind) \($0.sink.target))" }.joined(separator: ", ")
        let signing = pipeline.signing.map { "\($0.schemeName), \(Plural.count($0.secretCount, "secret"))" } ?? "unsigned"
        var lines = [
            "✓ \(pipeline.name)  \(pipeline.file)",
            "    source: \(pipeline.source.identity)",
            "    events: \(types.count == EventCatalogue.names.count ? "all \(types.count) types" : types.joined(separator: ", "))",
        ]
        if let condition = pipeline.filter.condition {
            lines.append("    where:  \(condition.singleLine)")
        }
        lines += [
            "    steps:  \(pipeline.steps.isEmpty ? "none" : pipeline.steps.map(\.name).joined(separator: " → "))",
            "    signed: \(signing)",
            "    sinks:  \(sinks)",
        ]
        return lines.joined(separator: "\n")
    }

    /// One JSON object describing a pipeline's routes.
    static func pipelineJSON(_ pipeline: PipelineDefinition) -> String {
        JSONValue.object(DeliveryJSON.pipeline(pipeline)).serializedString
    }
}
