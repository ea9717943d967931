import Foundation
import LoyaliHooks

/// `loyali-hooks test PIPELINE --event TYPE`: the guide's "Test" button.
enum TestCommand {
    static let usage = """
        USAGE: loyali-hooks test PIPELINE --event TYPE [--sink NAME]… [PATH…] [--json] [--allow-network CIDR]…

        Sends the catalogue's realistic sample of TYPE through PIPELINE's transform steps and signing
        to its sinks right now, and prints each sink's answer. PIPELINE is a pipeline name, found in
        PATH (default: pipelines/; only the pipeline's own file has to load, so other pipelines'
        unset secrets do not matter), or a pipeline file such as pipelines/fulfillment.yaml.

        The sample goes to every http and plugin sink (the receivers being tested), or only to the
        sinks named with --sink. File and stdout sinks are used only when named. Nothing is written
        to the delivery log; a plugin sink may write where its own config says (csv-analytics does).

        OPTIONS:
          --event TYPE       the event type whose sample to send ('loyali-hooks events' lists them)
          --sink NAME        send only to this sink; repeat for several; any sink type may be named
          --json             one JSON object per sink
        \(ConnectionOptions.allowNetworkHelp)
        EXIT CODES: 0 every chosen sink accepted the sample; 1 one did not; 2 usage or config error,
          such as an event type the pipeline does not subscribe to.
        EXAMPLES:
          loyali-hooks test fulfillment --event redemption.created
          loyali-hooks test pipelines/fulfillment.yaml --event redemption.created --sink audit
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: ["--event", "--sink", ConnectionOptions.allowNetworkOption], flags: ["--json"])
        try ConnectionOptions.installAllowedNetworks(args)
        guard let name = args.positionals.first else { throw .usage("test needs a PIPELINE name or file") }
        guard let eventName = args.value("--event") else { throw .usage("test needs --event TYPE") }
        guard let type = EventCatalogue.type(named: eventName) else {
            throw .usage("unknown event type '\(eventName)'\(Suggestion.didYouMean(eventName, in: EventCatalogue.names))")
        }
        let loaded = try PipelineArgument.pipeline(name, paths: Array(args.positionals.dropFirst()), loader: PipelineLoader(), lookup: "test NAME --event TYPE")
        guard loaded.filter.accepts(type.name) else {
            throw .usage(
                "pipeline '\(loaded.name)' does not subscribe to \(type.name); it subscribes to: "
                    + loaded.filter.acceptedTypes.joined(separator: ", "))
        }
        let pipeline: PipelineDefinition
        do {
            pipeline = try loaded.sinksForTest(named: args.all("--sink"))
        } catch {
            // With no --sink given, the only refusal is a pipeline with nothing to test by default.
            throw .usage(error.message + (args.all("--sink").isEmpty ? "; give --sink NAME" : ""))
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
            text = "HTTP \(status) in \(result.durationMs) ms" + (snippet.isEmpty ? "" : "\n    \(snippet.replacingNewlines().truncated(to: 500))")
        case .accepted:
            text = "written in \(result.durationMs) ms"
        case .failure(let failure):
            text = "\(failure.errorClass): \(failure.message)"
        }
        Terminal.out("\(result.outcome.isSuccess ? "✅" : "❌") \(result.sink) (\(result.kind) \(result.target)) \(result.deliveryID): \(text)")
    }
}
