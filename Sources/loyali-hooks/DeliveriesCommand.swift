import LoyaliHooks

/// `loyali-hooks deliveries [filters]` and `loyali-hooks deliveries show WHD_ID`
enum DeliveriesCommand {
    static let usage = """
        USAGE: loyali-hooks deliveries [--status pending|in_flight|retrying|succeeded|failed] [--pipeline P] [--sink S]
                                       [--event-type T] [--since 1h] [--limit N] [--json] [--state DIR]
                                       [--store URL]
               loyali-hooks deliveries show WHD_ID [--json] [--state DIR] [--store URL]

        The delivery log, newest first: each delivery's status, attempts and last result; 'show'
        gives one delivery's attempt timeline (when, status, latency, error, next attempt). Reads the
        store read-only, also while a runner works on it; a state directory that does not exist is
        an error (exit 2), never created.

        OPTIONS:
        \(StateOptions.help)
          --json             one JSON object per line
        EXAMPLES:
          loyali-hooks deliveries --status failed --since 24h
          loyali-hooks deliveries show whd_3399ea5c12101c5af09822cd02fce6e4
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(
            raw, options: ["--status", "--pipeline", "--sink", "--event-type", "--since", "--limit"] + StateOptions.names, flags: ["--json"])
        // Flags are checked before the store is touched.
        let query = try DeliveryFilters.query(args)
        if args.positionals.first == "show", let filter = DeliveryFilters.given(args, among: DeliveryFilters.listOptions) {
            throw .usage("\(filter) filters the list; 'deliveries show' takes only WHD_ID, --json, --state and --store")
        }
        let store = try StateOptions.openExistingStore(args, readOnly: true)
        if args.positionals.first == "show" {
            guard args.positionals.count == 2 else { throw .usage("deliveries show needs one WHD_ID") }
            try show(args.positionals[1], store: store, json: args.has("--json"))
            return
        }
        guard args.positionals.isEmpty else { throw .usage("unexpected argument '\(args.positionals[0])'; did you mean 'deliveries show ID'?") }
        let rows = try StateOptions.attempt { try store.list(query) }
        if args.has("--json") {
            for row in rows { Terminal.out(JSONValue.object(DeliveryRendering.summaryJSON(row)).serializedString) }
            return
        }
        guard !rows.isEmpty else {
            Terminal.out("no deliveries match")
            return
        }
        Terminal.out("ID".padding(37) + "PIPELINE/SINK".padding(28) + "EVENT".padding(22) + "STATUS".padding(13) + "TRIES".padding(6) + "LAST".padding(18) + "UPDATED")
        for row in rows {
            let last = row.lastHTTPStatus.map(String.init) ?? row.lastError.map { $0.replacingNewlines().truncated(to: 16) } ?? "-"
            Terminal.out(
                row.id.padding(37) + "\(row.pipeline)/\(row.sink)".padding(28) + row.eventType.padding(22)
                    + "\(DeliveryRendering.mark(row.status)) \(row.status.rawValue)".padding(13) + String(row.attempts).padding(6)
                    + last.padding(18) + row.updatedAtMs.rfc3339)
        }
    }

    static func show(_ id: String, store: any DeliveryStore, json: Bool) throws(CLIError) {
        guard let (summary, attempts) = try StateOptions.attempt({ try store.detail(id: id) }) else {
            throw .failed("no delivery '\(id)'")
        }
        if json {
            Terminal.out(JSONValue.object(DeliveryJSON.detail(summary, attempts: attempts)).serializedString)
            return
        }
        // The event id came from the input and the messages from receivers: shown escaped.
        Terminal.out("\(summary.id)  \(summary.pipeline)/\(summary.sink)  \(summary.eventType)  event \(summary.eventID.controlCharactersEscaped)")
        var status = "\(DeliveryRendering.mark(summary.status)) \(summary.status.rawValue) · \(Plural.count(summary.attempts, "attempt"))"
        if let next = summary.nextAttemptMs, summary.status == .pending || summary.status == .retrying {
            status += " · next attempt \(next.rfc3339)"
        }
        Terminal.out(status)
        for attempt in attempts {
            let result = attempt.httpStatus.map { "HTTP \($0)" } ?? attempt.errorClass ?? "ok"
            var line = "  #\(attempt.attempt)  \(attempt.startedAtMs.rfc3339)  \(result.padding(20))\(String(attempt.durationMs).padding(6))ms"
            if let message = attempt.errorMessage { line += "  \(message)" }
            if case .retry(let next) = attempt.outcome { line += "  → retry at \(next.rfc3339)" }
            if let node = attempt.node { line += "  (node \(node))" }
            Terminal.out(line.controlCharactersEscaped)
            if let snippet = attempt.responseSnippet, !snippet.isEmpty {
                Terminal.out("      \(snippet.replacingNewlines().truncated(to: 200))")
            }
        }
    }
}

/// The filter options shared by `deliveries` and `resend --failed`.
enum DeliveryFilters {
    /// Every option that narrows the list of `deliveries`.
    static let listOptions = ["--status", "--pipeline", "--sink", "--event-type", "--since", "--limit"]

    /// The first of `options` given, if any: for refusing filters a mode would ignore.
    static func given(_ args: Arguments, among options: [String]) -> String? {
        options.first { args.value($0) != nil }
    }

    static func query(_ args: Arguments, forcedStatus: DeliveryStatus? = nil) throws(CLIError) -> DeliveryQuery {
        var query = DeliveryQuery()
        if let status = args.value("--status") {
            guard let parsed = DeliveryStatus(rawValue: status) else {
                throw .usage("--status must be one of \(DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.status = parsed
        }
        if let forcedStatus { query.status = forcedStatus }
        query.pipeline = args.value("--pipeline")
        query.sink = args.value("--sink")
        query.eventType = args.value("--event-type")
        query.sinceMs = try StateOptions.since(args, nowMs: Terminal.now * 1000)
        if let limit = try args.integer("--limit") {
            guard limit > 0 else { throw .usage("--limit must be positive") }
            query.limit = Int(limit)
        }
        return query
    }
}

/// Text and JSON renderings of store rows.
enum DeliveryRendering {
    /// The guide's dashboard marks.
    static func mark(_ status: DeliveryStatus) -> String {
        switch status {
        case .succeeded: "✅"
        case .failed: "❌"
        case .retrying: "⚠️"
        case .pending, .inFlight: "⏳"
        }
    }

    static func summaryJSON(_ row: DeliverySummary) -> JSONObject { DeliveryJSON.summary(row) }

    static func attemptJSON(_ row: AttemptRow) -> JSONObject { DeliveryJSON.attempt(row) }
}

extension StringProtocol {
    func replacingNewlines() -> String { String(map { $0.isNewline ? " " : $0 }).controlCharactersEscaped }
}
