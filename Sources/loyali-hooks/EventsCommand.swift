import LoyaliHooks

/// `loyali-hooks events [--json]` and `loyali-hooks events sample TYPE [--json]`
enum EventsCommand {
    static let usage = """
        USAGE: loyali-hooks events [--json]
               loyali-hooks events sample TYPE [--json]

        Lists the 15 Loyali event types, then the Operational group: the events loyali-hooks emits
        about its own deliveries and sinks (delivery.failed, delivery.recovered, sink.paused,
        sink.resumed, sink.disabled, sink.enabled) to pipelines with 'source: { type: operational }'.
        Or prints a realistic sample event of TYPE as an input line (with --json: compact, ready to
        pipe into 'run --input -').

        EXAMPLES:
          loyali-hooks events
          loyali-hooks events sample tier.upgraded
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: [], flags: ["--json"])
        let json = args.has("--json")
        switch args.positionals.first {
        case nil:
            for type in EventCatalogue.all {
                let operational = EventCatalogue.isOperational(type.name)
                if json {
                    var object = JSONObject(["event_type": .string(type.name), "group": .string(type.group), "summary": .string(type.summary)])
                    object["operational"] = .bool(operational)
                    Terminal.out(JSONValue.object(object).serializedString)
                } else {
                    if type.name == EventCatalogue.operational.first?.name {
                        Terminal.out("")
                        Terminal.out("\(EventCatalogue.operationalGroupTitle) (emitted by loyali-hooks to pipelines with source type operational):")
                    }
                    Terminal.out(type.name.padding(22) + type.summary)
                }
            }
        case "sample":
            guard args.positionals.count == 2 else { throw .usage("events sample needs one event TYPE, e.g. 'events sample points.earned'") }
            let name = args.positionals[1]
            guard let type = EventCatalogue.type(named: name) else {
                throw .usage("unknown event type '\(name)'\(Suggestion.didYouMean(name, in: EventCatalogue.names))")
            }
            let line = SampleSource.sampleLine(for: type)
            if json {
                Terminal.out(line)
            } else {
                Terminal.out((try? JSONParser.parse(line).prettyPrinted()) ?? line)
            }
        case let other?:
            throw .usage("unknown events subcommand '\(other)'; expected 'sample'")
        }
    }
}
