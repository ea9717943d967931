import LoyaliHooks

/// `loyali-hooks store status [--json]`: which store the flags name, its schema and its counts.
enum StoreCommand {
    static let usage = """
        USAGE: loyali-hooks store status [--json] [--state DIR] [--store URL]

        The state store the flags name (the same --state, --store and $LOYALI_HOOKS_STORE as 'run',
        'serve' and 'deliveries'): its engine (sqlite or postgresql), where it is (a PostgreSQL URL
        without its password), the schema version it holds, and how many deliveries are in each
        status. Reads only; a store that does not exist is an error (exit 2), never created.

        OPTIONS:
        \(StateOptions.help)
          --json             one JSON object: engine, location, schema_version, total, counts
        EXAMPLES:
          loyali-hooks store status
          loyali-hooks store status --store postgres://loyali@db.internal/hooks --json
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: StateOptions.names, flags: ["--json"])
        guard let action = args.positionals.first else { throw .usage("give the action: 'store status'") }
        guard action == "status" else {
            throw .usage("unknown action 'store \(action)'\(Suggestion.didYouMean(action, in: ["status"]))")
        }
        guard args.positionals.count == 1 else { throw .usage("'store status' takes no arguments, not '\(args.positionals[1])'") }
        let store = try StateOptions.openExistingStore(args, readOnly: true)
        let status = try StateOptions.attempt { try store.status() }
        if args.has("--json") {
            Terminal.out(JSONValue.object(json(status)).serializedString)
            return
        }
        Terminal.out("engine          \(status.engine.rawValue)")
        Terminal.out("location        \(status.location)")
        Terminal.out("schema version  \(status.schemaVersion)")
        Terminal.out("deliveries      \(status.total)")
        for state in DeliveryStatus.allCases {
            Terminal.out("  " + state.rawValue.padding(14) + String(status.counts[state] ?? 0))
        }
    }

    /// `{"engine":…,"location":…,"schema_version":…,"total":…,"counts":{"pending":…,…}}`, the
    /// statuses in their usual order.
    static func json(_ status: StoreStatus) -> JSONObject {
        var counts = JSONObject()
        for state in DeliveryStatus.allCases { counts[state.rawValue] = .number(JSONNumber(Int64(status.counts[state] ?? 0))) }
        var object = JSONObject()
        object["engine"] = .string(status.engine.rawValue)
        object["location"] = .string(status.location)
        object["schema_version"] = .number(JSONNumber(Int64(status.schemaVersion)))
        object["total"] = .number(JSONNumber(Int64(status.total)))
        object["counts"] = .object(counts)
        return object
    }
}
