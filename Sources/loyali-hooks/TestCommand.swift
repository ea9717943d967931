import Foundation
import LoyaliHooks

/// `loyali-hooks test PIPELINE --event TYPE`: the guide's "Test" button.
enum TestCommand {
    static let usage = """
        USAGE: loyali-hooks test PIPELINE --event TYPE [PATH…] [--json]

        Sends the catalogue's realistic sample of TYPE through PIPELINE's transform steps, signing
        and sinks right now, and prints each sink's response. Nothing is written to the delivery log.
        PATH is where to find pipelines (default: pipelines/).

        EXAMPLE:
          loyali-hooks test fulfillment --event redemption.created
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: ["--event"], flags: ["--json"])
        guard let name = args.positionals.first else { throw .usage("test needs a PIPELINE name") }
        guard let eventName = args.value("--event") else { throw .usage("test needs --event TYPE") }
        guard let type = EventCatalogue.type(named: eventName) else {
            throw .usage("unknown event type '\(eventName)'\(Suggestion.didYouMean(eventName, in: EventCatalogue.names))")
        }
        let result = PipelineLoader().load(paths: args.positionals.count > 1 ? Array(args.positionals.dropFirst()) : ["pipelines"])
        Reports.diagnostics(result.diagnostics, json: false)
        guard !result.hasErrors else { throw .config }
        guard let pipeline = result.pipelines.first(where: { $0.name == name }) else {
            throw .usage("no pipeline '\(name)'\(Suggestion.didYouMean(name, in: result.pipelines.map(\.name)))")
        }
        let startErrors = PluginRuntime.start([pipeline], includingSinks: true)
        defer { PluginRuntime.shutdown([pipeline]) }
        Reports.diagnostics(startErrors, json: false)
        guard startErrors.isEmpty else { throw .config }
        let line = Array(SampleSource.sampleLine(for: type).utf8)
        let now = Terminal.now
        let envelope: EventEnvelope
        do {
            envelope = try line.withUnsafeBufferPointer { buffer throws(InputRejection) in
                try InputEventDecoder(ingestTime: RFC3339.format(unixSeconds: now)).decode(buffer, number: 1)
            }
        } catch {
            throw .failed("sample event is invalid: \(error)")
        }
        let planner = DeliveryPlanner(pipeline: pipeline)
        guard pipeline.filter.accepts(type.name) else {
            throw .failed("pipeline '\(name)' does not subscribe to \(type.name); its filter accepts: \(pipeline.filter.acceptedTypes.joined(separator: ", "))")
        }
        let transformed: EventEnvelope
        let encoder: EnvelopeEncoder
        switch planner.plan(envelope) {
        case .deliver(let envelope, let envelopeEncoder):
            transformed = envelope
            encoder = envelopeEncoder
        case .dropped(let step):
            throw .failed("pipeline '\(name)' dropped the sample in its transform step '\(step)'")
        case .failed(let failure):
            throw .failed("pipeline '\(name)': \(failure)")
        case .notSubscribed:
            throw .failed("pipeline '\(name)' does not subscribe to \(type.name)")
        }
        var failures = 0
        for sink in pipeline.sinks {
            let request = planner.request(for: sink, envelope: transformed, encoder: encoder, attempt: 1, timestamp: now)
            let started = Date()
            let outcome: AttemptResult
            if let concurrent = sink.sink as? any ConcurrentSink {
                outcome = HTTPSink.wait { done in concurrent.send(request, completion: done) }
            } else {
                do {
                    try sink.sink.deliver(request)
                    outcome = .accepted
                } catch {
                    outcome = .failure(error)
                }
            }
            let ms = Int(Date().timeIntervalSince(started) * 1000)
            if !outcome.isSuccess { failures += 1 }
            report(sink: sink, request: request, outcome: outcome, ms: ms, json: args.has("--json"))
        }
        if failures > 0 { throw .failed("") }
    }

    private static func report(sink: SinkDefinition, request: DeliveryRequest, outcome: AttemptResult, ms: Int, json: Bool) {
        var object = JSONObject()
        object["sink"] = .string(sink.name)
        object["target"] = .string(sink.sink.target)
        object["delivery_id"] = .string(request.deliveryID)
        object["duration_ms"] = .number(JSONNumber(Int64(ms)))
        object["ok"] = .bool(outcome.isSuccess)
        var text: String
        switch outcome {
        case .httpStatus(let status, _, let snippet):
            object["http_status"] = .number(JSONNumber(Int64(status)))
            object["response"] = .string(snippet)
            text = "HTTP \(status) in \(ms) ms" + (snippet.isEmpty ? "" : "\n    \(snippet.prefix(500).replacingNewlines())")
        case .accepted:
            text = "written in \(ms) ms"
        case .failure(let failure):
            object["error_class"] = .string(failure.errorClass)
            object["error"] = .string(failure.message)
            text = "\(failure.errorClass): \(failure.message)"
        }
        if json {
            Terminal.out(JSONValue.object(object).serializedString)
        } else {
            Terminal.out("\(outcome.isSuccess ? "✅" : "❌") \(sink.name) (\(sink.sink.kind) \(sink.sink.target)) \(request.deliveryID): \(text)")
        }
    }
}
