import LoyaliHooks

/// The command table: each command has a usage text and a function over its arguments.
enum Commands {
    struct Command: Sendable {
        let name: String
        let summary: String
        let usage: String
        let run: @Sendable ([String]) throws(CLIError) -> Void
    }

    static let all: [Command] = [
        Command(name: "validate", summary: "check pipeline files and show their routes", usage: ValidateCommand.usage, run: ValidateCommand.run),
        Command(name: "check", summary: "run the pipeline tests beside the pipelines, offline", usage: CheckCommand.usage, run: CheckCommand.run),
        Command(name: "diff", summary: "what a change to the pipelines does to routing, per pipeline and sink", usage: DiffCommand.usage, run: DiffCommand.run),
        Command(name: "schema", summary: "print the JSON Schema of pipeline files, for editors and CI", usage: SchemaCommand.usage, run: SchemaCommand.run),
        Command(name: "run", summary: "read sources and deliver (or --dry-run: print) signed payloads", usage: RunCommand.usage, run: RunCommand.run),
        Command(name: "serve", summary: "run every pipeline as a daemon: HTTP ingest, admin API, metrics", usage: ServeCommand.usage, run: ServeCommand.run),
        Command(name: "plan", summary: "each sink's retry timeline: attempts, delays, jitter, the last attempt", usage: PlanCommand.usage, run: PlanCommand.run),
        Command(name: "deliveries", summary: "the delivery log, or one delivery's attempt timeline", usage: DeliveriesCommand.usage, run: DeliveriesCommand.run),
        Command(name: "resend", summary: "queue fresh attempts for deliveries (same id, new signature)", usage: ResendCommand.usage, run: ResendCommand.run),
        Command(name: "stats", summary: "delivery health per pipeline and sink", usage: StatsCommand.usage, run: StatsCommand.run),
        Command(name: "sinks", summary: "sink health: healthy, paused or disabled; enable or disable one", usage: SinksCommand.usage, run: SinksCommand.run),
        Command(name: "store", summary: "the state store: engine, schema version, deliveries by status", usage: StoreCommand.usage, run: StoreCommand.run),
        Command(name: "test", summary: "send a sample event through a pipeline now", usage: TestCommand.usage, run: TestCommand.run),
        Command(name: "listen", summary: "receive webhooks locally, verify and show them", usage: ListenCommand.usage, run: ListenCommand.run),
        Command(name: "events", summary: "list the event catalogue, or print a sample event", usage: EventsCommand.usage, run: EventsCommand.run),
        Command(name: "sign", summary: "print the signature header for a body", usage: SignCommand.usage, run: SignCommand.run),
        Command(name: "verify", summary: "check a signature header against a body", usage: VerifyCommand.usage, run: VerifyCommand.run),
    ]

    static var overview: String {
        var text = """
            loyali-hooks \(LoyaliHooksVersion.current): config-as-code webhook delivery for Loyali loyalty events

            USAGE: loyali-hooks <command> [options]

            COMMANDS:

            """
        for command in all {
            text += "  " + command.name.padding(12) + command.summary + "\n"
        }
        text += """

            Run 'loyali-hooks <command> --help' for a command's options.
            Exit codes: 0 success, 1 the work had failures, 2 usage or config error.
            """
        return text
    }

    static func dispatch(_ arguments: [String]) throws(CLIError) {
        guard let first = arguments.first else {
            Terminal.out(overview)
            return
        }
        switch first {
        case "--help", "-h", "help":
            if arguments.count > 1, let command = all.first(where: { $0.name == arguments[1] }) {
                Terminal.out(command.usage)
            } else {
                Terminal.out(overview)
            }
            return
        case "--version", "version":
            Terminal.out(LoyaliHooksVersion.userAgent)
            return
        default:
            break
        }
        guard let command = all.first(where: { $0.name == first }) else {
            throw .usage("unknown command '\(first)'\(Suggestion.didYouMean(first, in: all.map(\.name)))")
        }
        let rest = Array(arguments.dropFirst())
        if rest.contains("--help") || rest.contains("-h") {
            Terminal.out(command.usage)
            return
        }
        do {
            try command.run(rest)
        } catch .usage(let message) {
            throw .commandUsage(message, command: command.name)
        }
    }
}

extension String {
    /// At most `width` characters: a longer text is cut and ends in `…`, so a cut never passes
    /// for the whole value.
    func truncated(to width: Int) -> String {
        count <= width ? self : String(prefix(max(0, width - 1))) + "…"
    }

    /// Pads with spaces to `width` characters.
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
