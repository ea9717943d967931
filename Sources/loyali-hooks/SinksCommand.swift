import LoyaliHooks

/// `loyali-hooks sinks [list|enable|disable]`: each sink's health (healthy, paused until T,
/// disabled since T), and enabling or disabling one by hand.
enum SinksCommand {
    static let usage = """
        USAGE: loyali-hooks sinks [list] [--json] [--state DIR] [--store URL]
               loyali-hooks sinks enable PIPELINE/SINK [--state DIR] [--store URL]
               loyali-hooks sinks disable PIPELINE/SINK [--state DIR] [--store URL]

        A sink whose endpoint keeps failing is paused: its deliveries wait, their retry schedules
        frozen, while one probe goes out at growing intervals; the first success resumes it. One
        that fails without a success for its pause.disable_after (5 days by default) is disabled:
        nothing is sent to it until it is enabled here or through the admin API
        (POST /api/sinks/{pipeline}/{sink}/enable).

        list     every sink the store knows, with its state and consecutive failed attempts
        enable   makes a disabled (or paused) sink healthy: its waiting deliveries go out again,
                 each due as long after now as it was due after the sink stopped
        disable  stops sending to a sink until it is enabled; its deliveries wait

        A running 'serve' or 'run' sees the change within a second. The state is kept in the
        store, so it holds across restarts and for every node sharing a PostgreSQL store.

        OPTIONS:
        \(StateOptions.help)
          --json             list as a JSON array of {pipeline, sink, state, since, paused_until,
                             consecutive_failures, failing_since, reason}
        EXAMPLES:
          loyali-hooks sinks
          loyali-hooks sinks disable fulfillment/warehouse
          loyali-hooks sinks enable fulfillment/warehouse
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: StateOptions.names, flags: ["--json"])
        let action = args.positionals.first ?? "list"
        switch action {
        case "list":
            guard args.positionals.count <= 1 else { throw .usage("'sinks list' takes no arguments, not '\(args.positionals[1])'") }
            let store = try StateOptions.openExistingStore(args, readOnly: true)
            let states = try StateOptions.attempt { try known(store) }
            if args.has("--json") {
                Terminal.out(JSONValue.array(states.map(\.json)).serializedString)
                return
            }
            guard !states.isEmpty else {
                Terminal.out("no sinks in the store yet")
                return
            }
            let width = max(4, states.map { $0.pipeline.count + 1 + $0.sink.count }.max() ?? 0)
            Terminal.out("SINK".padding(width + 2) + "STATE".padding(38) + "FAILURES  REASON")
            for state in states {
                Terminal.out(
                    "\(state.pipeline)/\(state.sink)".padding(width + 2) + state.summary.padding(38)
                        + String(state.consecutiveFailures).padding(10) + state.reason)
            }
        case "enable", "disable":
            if args.has("--json") { throw .usage("--json applies to 'sinks list'") }
            guard args.positionals.count == 2 else { throw .usage("give the sink: 'sinks \(action) PIPELINE/SINK'") }
            let (pipeline, sink) = try sinkName(args.positionals[1])
            let store = try StateOptions.openExistingStore(args, readOnly: false)
            let enable = action == "enable"
            // A misspelt name would otherwise store a state for a sink that does not exist.
            let exists = try StateOptions.attempt {
                try store.sinkStates().contains { $0.pipeline == pipeline && $0.sink == sink }
                    || !store.list(DeliveryQuery(pipeline: pipeline, sink: sink, limit: 1)).isEmpty
            }
            guard exists else {
                throw .usage("the store has no sink \(pipeline)/\(sink) (no deliveries, no state); 'loyali-hooks sinks' lists the known ones")
            }
            let (before, after) = try StateOptions.attempt {
                try store.setSinkEnabled(pipeline: pipeline, sink: sink, enabled: enable, nowMs: Terminal.now * 1000, by: "the CLI")
            }
            if before.version == after.version {
                Terminal.out("\(pipeline)/\(sink) is \(enable ? "healthy already" : "disabled already"): \(before.summary)")
            } else {
                Terminal.out("\(pipeline)/\(sink): \(before.summary) -> \(after.summary)")
            }
        default:
            throw .usage("unknown action 'sinks \(action)'\(Suggestion.didYouMean(action, in: ["list", "enable", "disable"]))")
        }
    }

    /// Every sink with a stored state or deliveries waiting or failed, by pipeline then sink;
    /// those without a stored state are healthy.
    static func known(_ store: any DeliveryStore) throws -> [SinkState] {
        var states = Dictionary(uniqueKeysWithValues: try store.sinkStates().map { ("\($0.pipeline)/\($0.sink)", $0) })
        for gauge in try store.outboxGauges() where states["\(gauge.pipeline)/\(gauge.sink)"] == nil {
            states["\(gauge.pipeline)/\(gauge.sink)"] = SinkState(pipeline: gauge.pipeline, sink: gauge.sink)
        }
        return states.values.sorted { ($0.pipeline, $0.sink) < ($1.pipeline, $1.sink) }
    }

    /// `PIPELINE/SINK` split in two.
    static func sinkName(_ text: String) throws(CLIError) -> (String, String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .usage("'\(text)' is not PIPELINE/SINK, e.g. fulfillment/warehouse")
        }
        return (String(parts[0]), String(parts[1]))
    }

}
