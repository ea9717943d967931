import LoyaliHooks

/// `loyali-hooks run [PATH…] [--input FILE|-] --dry-run [--json]`
enum RunCommand {
    static let usage = """
        USAGE: loyali-hooks run [PATH…] [--input FILE|-] [--dry-run [--json] [--timestamp T]]
                                [--once | --drain] [--state DIR] [--grace 10s] [--log-format logfmt|json]
                                [--rejects FILE]

        Reads each pipeline's source once, fans every event out to the pipelines that subscribe to it,
        applies their transform steps and stores one durable delivery per sink; then delivers each,
        signing every attempt at send time and retrying on the sink's schedule until it succeeds or
        is marked failed (see 'deliveries' and 'resend'). File sources resume from their checkpoint.
        PATH is pipeline files or folders (default: pipelines/).

        MODES:
          (default)          follow file sources as they grow and deliver retries as they fall due, until
                             SIGINT/SIGTERM; with nothing to follow (stdin), exit once every delivery settled
          --drain            exit once the sources are exhausted and every delivery succeeded or failed
          --once             deliver what is due now and exit (for cron); later retries wait for the next run
          --dry-run          no store, no network, no sink file: print each delivery's headers and body
        OPTIONS:
          --input FILE|-     read events from FILE (or stdin) for every pipeline instead of their sources
          --json             with --dry-run: one JSON object per delivery (pipeline, sink, headers, body)
          --timestamp T      with --dry-run: sign with unix time T (and stamp events lacking created_at)
          --rejects FILE     also append each rejected input line, with its reason, to FILE (JSON lines)
        \(StateOptions.help)
          --grace D          on SIGINT/SIGTERM, let in-flight attempts finish for up to D (default 10s)
          --log-format F     logfmt (default) or json, on stderr
        EXAMPLES:
          loyali-hooks run pipelines/ --input pipelines/events/sample.jsonl --dry-run
          loyali-hooks events sample points.earned --json | loyali-hooks run --input - --dry-run --json
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(
            raw, options: ["--input", "--rejects", "--timestamp", "--state", "--grace", "--log-format"],
            flags: ["--dry-run", "--json", "--once", "--drain"])
        let result = PipelineLoader().load(paths: args.positionals.isEmpty ? ["pipelines"] : args.positionals)
        Reports.diagnostics(result.diagnostics, json: false)
        guard !result.hasErrors else { throw .config }
        var options = PipelineRunner.Options()
        options.dryRun = args.has("--dry-run")
        options.format = args.has("--json") ? .json : .human
        options.rejectsPath = args.value("--rejects")
        options.timestamp = try args.unixTime("--timestamp")
        if let input = args.value("--input") {
            do {
                options.input = input == "-" ? .descriptor(0, name: "input", closeWhenDone: false) : try InputStream.open(path: input)
            } catch {
                throw .usage("--input: \(error)")
            }
        }
        if !options.dryRun {
            try DurableRun.run(args, pipelines: result.pipelines, input: options.input, rejects: options.rejectsPath)
            return
        }
        // Transform plugins run for real in a dry run; sink plugins are never started.
        let startErrors = PluginRuntime.start(result.pipelines, includingSinks: false)
        defer { PluginRuntime.shutdown(result.pipelines) }
        Reports.diagnostics(startErrors, json: false)
        guard startErrors.isEmpty else { throw .config }
        let output = OutputBuffer(descriptor: 1)
        let runner = PipelineRunner(pipelines: result.pipelines, options: options, output: output) { Terminal.err($0) }
        let summary = runner.run()
        let verb = options.dryRun ? "printed" : "delivered"
        Terminal.err(
            "\(options.dryRun ? "dry-run: " : "")\(summary.eventsRead) event(s) read, \(summary.rejected) rejected, "
                + "\(summary.delivered) deliver\(summary.delivered == 1 ? "y" : "ies") \(verb), \(summary.failed) failed"
                + (summary.dropped > 0 ? ", \(summary.dropped) dropped by transforms" : "")
                + " across \(result.pipelines.count) pipeline(s)")
        if summary.hasFailures { throw .failed("") }
    }
}
