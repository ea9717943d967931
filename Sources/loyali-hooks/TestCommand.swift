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
        let results: [SampleSend.Result]
        do {
            results = try SampleSend.send(type, through: pipeline, timestamp: Terminal.now)
        } catch {
            throw .failed(error.message)
        }
        for result in results { report(result, json: args.has("--json")) }
        if results.contains(where: { !$0.outcome.isSuccess }) { throw .failed("") }
    }

    private static func report(_ result: SampleSend.Result, json: Bool) {
        if json {
            Terminal.out(JSONValue.object(result.json).serializedString)
            return
        }
        let text: String
        switch result.outcome {
        case .httpStatus(let status, _, let snippet):
            text = "HTTP \(status) in \(result.durationMs) ms" + (snippet.isEmpty ? "" : "\n    \(snippet.prefix(500).replacingNewlines())")
        case .accepted:
            text = "written in \(result.durationMs) ms"
        case .failure(let failure):
            text = "\(failure.errorClass): \(failure.message)"
        }
        Terminal.out("\(result.outcome.isSuccess ? "✅" : "❌") \(result.sink) (\(result.kind) \(result.target)) \(result.deliveryID): \(text)")
    }
}
