import LoyaliHooks

/// `loyali-hooks validate [PATH…] [--json]`
enum ValidateCommand {
    static let usage = """
        USAGE: loyali-hooks validate [PATH…] [--json]

        Checks pipeline files (or folders of them; default: pipelines/) and prints each pipeline's
        routes. Every problem is reported as path:line:col: error: … with the source line.

        OPTIONS:
          --json    one JSON object per pipeline or problem
        EXAMPLE:
          loyali-hooks validate pipelines/
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: [], flags: ["--json"])
        let result = PipelineLoader().load(paths: args.positionals.isEmpty ? ["pipelines"] : args.positionals)
        Reports.diagnostics(result.diagnostics, json: args.has("--json"))
        guard !result.hasErrors else {
            let errors = result.diagnostics.filter { $0.severity == .error }.count
            if !args.has("--json") { Terminal.err("\(errors) error\(errors == 1 ? "" : "s") in \(result.files.count) file(s)") }
            throw .config
        }
        // A transform plugin that cannot start is a config error; sink plugins are only started
        // by a real run.
        let startErrors = PluginRuntime.start(result.pipelines, includingSinks: false)
        defer { PluginRuntime.shutdown(result.pipelines) }
        Reports.diagnostics(startErrors, json: args.has("--json"))
        guard startErrors.isEmpty else {
            if !args.has("--json") { Terminal.err("\(startErrors.count) plugin(s) could not start") }
            throw .config
        }
        for pipeline in result.pipelines {
            if args.has("--json") {
                Terminal.out(Reports.pipelineJSON(pipeline))
            } else {
                Terminal.out(Reports.pipelineSummary(pipeline))
            }
        }
        if !args.has("--json") {
            Terminal.out("\(result.pipelines.count) pipeline(s) OK")
        }
    }
}
