import LoyaliHooks

/// `loyali-hooks run [PATH…] [--input FILE|-] --dry-run [--json]`
enum RunCommand {
    static let usage = """
        USAGE: loyali-hooks run [PATH…] [--input FILE|-] [--dry-run [--full] [--pretty] [--json] [--timestamp T]]
                                [--once | --drain] [--state DIR] [--store URL] [--node-id ID] [--lease 60s]
                                [--grace 10s] [--log-format logfmt|json] [--rejects FILE]
                                [--max-connections N] [--max-connections-per-host 32] [--allow-network CIDR]…

        Reads each pipeline's source once, fans every event out to the pipelines that subscribe to it,
        applies their transform steps and stores one durable delivery per sink; then delivers each,
        signing every attempt at send time and retrying on the sink's schedule until it succeeds or
        is marked failed (see 'deliveries' and 'resend'). File sources resume from their checkpoint.
        PATH is pipeline files or folders (default: pipelines/). Pipelines with an 'http' source are
        received by 'serve'; 'run' reads them only from --input.

        MODES:
          (default)          follow file sources as they grow and deliver retries as they fall due, until
                             SIGINT/SIGTERM; with nothing to follow (stdin), exit once every delivery settled
          --drain            exit once the sources are exhausted and every delivery succeeded or failed
          --once             deliver what is due now and exit (for cron); later retries wait for the next run
          --dry-run          no store, no network, no sink file: a line per delivery, one delivery in full
                             (headers and the exact body bytes that are signed) and a summary, on stdout;
                             a body is the one line after the blank line, its line break not part of it
        OPTIONS:
          --input FILE|-     read events from FILE (or stdin) for every pipeline instead of their sources
          --full             with --dry-run: print every delivery in full
          --pretty           with --dry-run: indent the bodies shown in full, for reading; they are then
                             NOT the signed bytes (the output says so)
          --json             with --dry-run: one JSON object per delivery (pipeline, sink, headers, body);
                             the summary goes to stderr
          --timestamp T      with --dry-run: sign with unix time T (and stamp events lacking created_at)
          --rejects FILE     also append each rejected input line, with its reason, to FILE (JSON lines)
        \(StateOptions.help)
        \(StateOptions.nodeHelp)
          --grace D          on SIGINT/SIGTERM, let in-flight attempts finish for up to D (default 10s, at most 1d)
          --log-format F     logfmt (default) or json, on stderr (with --dry-run: rejected lines and errors)
        \(ConnectionOptions.help)
        EXAMPLES:
          loyali-hooks run pipelines/ --input pipelines/events/sample.jsonl --dry-run
          loyali-hooks events sample points.earned --json | loyali-hooks run --input - --dry-run --json
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(
            raw, options: ["--input", "--rejects", "--timestamp", "--grace", "--log-format"] + StateOptions.names + StateOptions.nodeNames
                + ConnectionOptions.names,
            flags: ["--dry-run", "--json", "--once", "--drain", "--full", "--pretty"])
        // Every value is checked in every mode, before anything is loaded or started.
        let timestamp = try args.unixTime("--timestamp")
        let logFormat = try args.logFormat()
        let grace = try args.value("--grace").map { (text) throws(CLIError) in try ServeCommand.duration(text, "--grace") }
        guard !(args.has("--once") && args.has("--drain")) else { throw .usage("choose one of --once and --drain") }
        let dryRun = args.has("--dry-run")
        if dryRun {
            let realRunOnly = ["--once", "--drain"].filter(args.has)
                + (["--grace"] + StateOptions.names + StateOptions.nodeNames + ConnectionOptions.names).filter { args.value($0) != nil }
            if let first = realRunOnly.first { throw .usage("\(first) applies to a real run, not to --dry-run") }
            if args.has("--json"), let first = ["--full", "--pretty"].first(where: args.has) {
                throw .usage("\(first) shapes the human output; --json always prints every delivery with its exact body")
            }
        } else if let first = ["--full", "--pretty"].first(where: args.has) {
            throw .usage("\(first) applies to --dry-run only")
        } else if args.has("--json") || timestamp != nil {
            throw .usage("--json and --timestamp apply to --dry-run only")
        }
        if !dryRun { try ConnectionOptions.installAllowedNetworks(args) }
        let result = PipelineLoader().load(paths: args.positionals.isEmpty ? ["pipelines"] : args.positionals)
        Reports.diagnostics(result.diagnostics, json: false)
        guard !result.hasErrors else { throw .config }
        if args.value("--input") == nil, let ingest = result.pipelines.first(where: { $0.source is HTTPSource }) {
            throw .usage(
                "pipeline '\(ingest.name)' (\(ingest.file)) has an http source: 'loyali-hooks serve' receives it. "
                    + "Run 'loyali-hooks serve \(ingest.file)', or give 'run' the events with --input FILE")
        }
        var options = PipelineRunner.Options()
        options.dryRun = dryRun
        options.format = args.has("--json") ? .json : args.has("--full") ? .full : .human
        options.pretty = args.has("--pretty")
        options.rejectsPath = args.value("--rejects")
        options.timestamp = timestamp
        if let input = args.value("--input") {
            do {
                options.input = input == "-" ? .descriptor(0, name: "input", closeWhenDone: false) : try InputStream.open(path: input)
            } catch {
                throw .usage("--input: \(error)")
            }
        }
        if !options.dryRun {
            try DurableRun.run(
                args, pipelines: result.pipelines, input: options.input, rejects: options.rejectsPath, logFormat: logFormat, grace: grace)
            return
        }
        try dryRunAndReport(result.pipelines, options: options, logger: Logger(format: logFormat))
    }

    /// Prints every delivery, then the summary: on stdout after the human forms, where it is read
    /// with them; on stderr with --json, whose stdout holds only delivery objects.
    private static func dryRunAndReport(_ pipelines: [PipelineDefinition], options: PipelineRunner.Options, logger: Logger) throws(CLIError) {
        // Transform plugins run for real in a dry run; sink plugins are never started.
        let startErrors = PluginRuntime.start(pipelines, includingSinks: false, logger: logger)
        defer { PluginRuntime.shutdown(pipelines) }
        Reports.diagnostics(startErrors, json: false)
        guard startErrors.isEmpty else { throw .config }
        let output = OutputBuffer(descriptor: 1)
        let runner = PipelineRunner(pipelines: pipelines, options: options, output: output) { line in
            guard logger.format == .json else { return Terminal.err(line) }
            // The runner's lines are rejected input ("input:LINE: reason") or "error: …".
            if line.hasPrefix("error: ") {
                logger.log(.error, String(line.dropFirst("error: ".count)))
            } else {
                logger.log(.warn, line)
            }
        }
        let summary = runner.run()
        let text = "dry-run: \(Plural.count(summary.eventsRead, "event")) read, \(summary.rejected) rejected, "
            + "\(Plural.count(summary.delivered, "delivery", "deliveries")) printed, \(summary.failed) failed"
            + (summary.dropped > 0 ? ", \(summary.dropped) dropped by transforms" : "")
            + " across \(Plural.count(pipelines.count, "pipeline"))"
        if options.format != .json {
            Terminal.out(text)
        } else if logger.format == .json {
            logger.log(
                summary.hasFailures ? .warn : .info, "dry-run finished",
                [
                    "events_read": String(summary.eventsRead), "rejected": String(summary.rejected),
                    "printed": String(summary.delivered), "failed": String(summary.failed),
                    "dropped": String(summary.dropped), "pipelines": String(pipelines.count),
                ])
        } else {
            Terminal.err(text)
        }
        if summary.hasFailures { throw .failed("") }
    }
}
