import LoyaliHooks

/// `loyali-hooks stats [--since 24h] [--json]`
enum StatsCommand {
    static let usage = """
        USAGE: loyali-hooks stats [--since 24h] [--json] [--state DIR] [--store URL]

        The guide's delivery health table for each pipeline and sink: deliveries, those still
        pending (waiting for a first attempt or a retry) and in flight, success rate (healthy > 99%),
        latency p50/p95/p99 (healthy < 500 ms), retry rate (healthy < 5%) and failed deliveries
        (healthy 0), each marked ✅ or ❌. Success rate and failed are judged on settled deliveries:
        while some are pending or in flight, a good figure is marked ⏳ (not final), never ✅.
        STATE is the sink's health: healthy, paused until T (its endpoint kept failing: deliveries
        wait and a probe goes out at T) or disabled since T (see 'loyali-hooks sinks').
        --json gives the same figures, with healthy flags null where the mark is ⏳ or '-', and the
        state under "state". The window starts at the start of the minute --since ago (default
        24h), as the dashboard's do, so both read the same maintained per-minute and per-hour
        figures.

        EXAMPLE:
          loyali-hooks stats --since 1h
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: ["--since"] + StateOptions.names, flags: ["--json"])
        let since = SinkStats.windowStart(sinceMs: try StateOptions.since(args, nowMs: Terminal.now * 1000) ?? (Terminal.now - 86_400) * 1000)
        let store = try StateOptions.openExistingStore(args, readOnly: true)
        let rows = try StateOptions.attempt { try store.stats(sinceMs: since) }
        let states = try StateOptions.attempt { try store.sinkStates() }
        if args.has("--json") {
            for row in rows { Terminal.out(JSONValue.object(DeliveryJSON.stats(row, state: states.first(pipeline: row.pipeline, sink: row.sink))).serializedString) }
            return
        }
        guard !rows.isEmpty else {
            Terminal.out("no deliveries in this period")
            return
        }
        Terminal.out(
            "PIPELINE/SINK".padding(28) + "DELIVERIES".padding(12) + "PENDING".padding(9) + "IN FLIGHT".padding(11)
                + "SUCCESS".padding(12) + "P50".padding(11) + "P95".padding(11) + "P99".padding(11) + "RETRY RATE".padding(13) + "FAILED".padding(10) + "STATE")
        var unsettled = 0
        for row in rows {
            let health = Health(row)
            unsettled += health.unsettled
            Terminal.out(
                "\(row.pipeline)/\(row.sink)".padding(28) + String(row.total).padding(12)
                    + String(row.pending + row.retrying).padding(9) + String(row.inFlight).padding(11)
                    + cell(row.successRate.map(percent), health.successRate).padding(12)
                    + cell(row.latencyP50Ms.map { "\($0)ms" }, health.latency(row.latencyP50Ms)).padding(11)
                    + cell(row.latencyP95Ms.map { "\($0)ms" }, health.latency(row.latencyP95Ms)).padding(11)
                    + cell(row.latencyP99Ms.map { "\($0)ms" }, health.latency(row.latencyP99Ms)).padding(11)
                    + cell(row.retryRate.map(percent), health.retryRate).padding(13)
                    + cell(String(row.failed), health.failed).padding(10)
                    + (states.first(pipeline: row.pipeline, sink: row.sink)?.summary ?? "healthy"))
        }
        if unsettled > 0 {
            Terminal.out("⏳ not final: \(Plural.count(unsettled, "delivery", "deliveries")) still pending or in flight")
        }
    }

    /// The guide's healthy ranges.
    typealias Health = SinkHealth

    /// `value ✅`, `value ❌`, `value ⏳` (a figure not final yet), or `-` without a value.
    static func cell(_ value: String?, _ healthy: Bool?) -> String {
        guard let value else { return "-" }
        guard let healthy else { return "\(value) ⏳" }
        return "\(value) \(healthy ? "✅" : "❌")"
    }

    static func percent(_ rate: Double) -> String {
        let tenths = (rate * 1000).rounded() / 10
        return "\(tenths)%"
    }

    static func json(_ row: SinkStats) -> JSONObject { DeliveryJSON.stats(row) }
}
