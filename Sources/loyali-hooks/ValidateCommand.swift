import LoyaliHooks

/// `loyali-hooks validate [PATH…] [--json] [--strict-env]`
enum ValidateCommand {
    static let usage = """
        USAGE: loyali-hooks validate [PATH…] [--json] [--strict-env] [--max-connections N] [--max-connections-per-host 32]
                                     [--allow-network CIDR]…

        Checks pipeline files (or folders of them; default: pipelines/) and prints each pipeline's
        routes. Every problem is reported as path:line:col: error: … with the source line. A
        warning says when the http sinks can need more connections than the connection limits or
        the file-descriptor limit allow, and (at the URL's path:line:col) when a sink URL's host is
        a literal internal address that the SSRF guard refuses (see --allow-network).

        Secrets need not be set, so CI can lint without them: an undefined ${VAR} used as a
        signing secret, a token, a header value or part of a sink URL is a warning at its
        path:line:col, and the file is checked as if a well-formed value were set (format checks,
        such as a standard-webhooks secret's base64, apply only to values that are set). Any
        other undefined variable is an error. run, serve and test need every variable.

        OPTIONS:
          --json             one JSON object per pipeline or problem
          --strict-env       undefined variables are errors everywhere, as for run and serve
        \(ConnectionOptions.help)
        EXIT CODES: 0 every file is valid (warnings allowed); 2 a problem was found.
        EXAMPLES:
          loyali-hooks validate pipelines/
          env -i loyali-hooks validate pipelines/           # in CI, without the secrets
          loyali-hooks validate --strict-env pipelines/     # on the host that runs them
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: ConnectionOptions.names, flags: ["--json", "--strict-env"])
        let limits = try ConnectionOptions.install(args)
        var loader = PipelineLoader()
        loader.undefinedSensitiveVariables = args.has("--strict-env") ? .error : .warning
        let result = loader.load(paths: args.positionals.isEmpty ? ["pipelines"] : args.positionals)
        Reports.diagnostics(result.diagnostics, json: args.has("--json"))
        guard !result.hasErrors else {
            let errors = result.diagnostics.filter { $0.severity == .error }.count
            if !args.has("--json") { Terminal.err("\(Plural.count(errors, "error")) in \(Plural.count(Self.filesWithErrors(result.diagnostics), "file"))") }
            throw .config
        }
        // A plugin that cannot start, transform or sink, is a config error: each is started up to
        // its ready handshake, then stopped.
        let startErrors = PluginRuntime.start(result.pipelines, includingSinks: true)
        defer { PluginRuntime.shutdown(result.pipelines) }
        Reports.diagnostics(startErrors, json: args.has("--json"))
        guard startErrors.isEmpty else {
            if !args.has("--json") { Terminal.err("\(Plural.count(startErrors.count, "plugin")) could not start") }
            throw .config
        }
        if let warning = ConnectionOptions.warning(limits, pipelines: result.pipelines) {
            Reports.diagnostics([Diagnostic(.warning, at: nil, warning)], json: args.has("--json"))
        }
        for pipeline in result.pipelines {
            if args.has("--json") {
                Terminal.out(Reports.pipelineJSON(pipeline))
            } else {
                Terminal.out(Reports.pipelineSummary(pipeline))
            }
        }
        if !args.has("--json") {
            let warnings = result.diagnostics.filter { $0.severity == .warning }.count
            Terminal.out("\(Plural.count(result.pipelines.count, "pipeline")) OK" + (warnings > 0 ? ", \(Plural.count(warnings, "warning"))" : ""))
        }
    }

    /// How many files the errors are in (not how many were loaded): a diagnostic without a place
    /// is about one file of its own, e.g. one that cannot be read.
    static func filesWithErrors(_ diagnostics: [Diagnostic]) -> Int {
        let errors = diagnostics.filter { $0.severity == .error }
        return Set(errors.compactMap { $0.location?.path }).count + errors.filter { $0.location == nil }.count
    }
}
