import LoyaliHooks

/// `loyali-hooks run [PATH…] [--input FILE|-] --dry-run [--json]`
enum RunCommand {
    static let usage = """
        USAGE: loyali-hooks run [PATH…] [--input FILE|-] [--dry-run] [--json] [--rejects FILE] [--timestamp T]

        Reads each pipeline's source once, fans every event out to the pipelines that subscribe to it,
        applies their transform steps, signs each delivery and sends it to the sinks.
        PATH is pipeline files or folders (default: pipelines/).

        OPTIONS:
          --input FILE|-     read events from FILE (or stdin) for every pipeline instead of their sources
          --dry-run          send nothing and write no sink file: print each delivery's headers and body
          --json             with --dry-run: one JSON object per delivery (pipeline, sink, headers, body)
          --rejects FILE     also append each rejected input line, with its reason, to FILE (JSON lines)
          --timestamp T      sign with unix time T (and stamp events lacking created_at) instead of now
        EXAMPLES:
          loyali-hooks run pipelines/ --input pipelines/events/sample.jsonl --dry-run
          loyali-hooks events sample points.earned --json | loyali-hooks run --input - --dry-run --json
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: ["--input", "--rejects", "--timestamp"], flags: ["--dry-run", "--json"])
        let result = PipelineLoader().load(paths: args.positionals.isEmpty ? ["pipelines"] : args.positionals)
        Reports.diagnostics(result.diagnostics, json: false)
        guard !result.hasErrors else { throw .config }
        var options = PipelineRunner.Options()
        options.dryRun = args.has("--dry-run")
        options.format = args.has("--json") ? .json : .human
        options.rejectsPath = args.value("--rejects")
        options.timestamp = try args.integer("--timestamp")
        if let input = args.value("--input") {
            do {
                options.input = input == "-" ? .descriptor(0, name: "input", closeWhenDone: false) : try InputStream.open(path: input)
            } catch {
                throw .usage("--input: \(error)")
            }
        }
        if !options.dryRun {
            let http = result.pipelines.flatMap { p in p.sinks.filter { $0.sink.kind == "http" }.map { "\(p.name)/\($0.name)" } }
            guard http.isEmpty else {
                throw .usage("HTTP sinks (\(http.joined(separator: ", "))) deliver only under --dry-run in this version")
            }
        }
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
