import LoyaliHooks

/// `loyali-hooks resend WHD_ID…` and `loyali-hooks resend --failed [filters]`
enum ResendCommand {
    static let usage = """
        USAGE: loyali-hooks resend WHD_ID… [--state DIR] [--store URL]
               loyali-hooks resend --failed [--pipeline P] [--sink S] [--event-type T] [--since 24h] [--state DIR] [--store URL]

        Queues fresh attempts for deliveries: same whd_ id (receivers dedupe on it), a fresh
        signature at send time, and the sink's retry schedule starting over. A running
        'loyali-hooks run' or 'serve' picks them up within a second; otherwise 'run --once' sends
        them. A delivery in flight (being sent right now) cannot be resent until its attempt is
        recorded; resend says so and exits 1.

        EXAMPLES:
          loyali-hooks resend whd_3399ea5c12101c5af09822cd02fce6e4
          loyali-hooks resend --failed --pipeline fulfillment --since 24h
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(
            raw, options: ["--pipeline", "--sink", "--event-type", "--since"] + StateOptions.names, flags: ["--failed"])
        let now = Terminal.now * 1000
        // Filter values are checked in both modes; with WHD_IDs they would be ignored, so they are refused.
        var query = try DeliveryFilters.query(args, forcedStatus: .failed)
        if !args.has("--failed"), let filter = DeliveryFilters.given(args, among: ["--pipeline", "--sink", "--event-type", "--since"]) {
            throw .usage("\(filter) applies to 'resend --failed'; WHD_IDs are resent as given")
        }
        if args.has("--failed") {
            guard args.positionals.isEmpty else { throw .usage("give either WHD_IDs or --failed, not both") }
            query.limit = Int.max
            let store = try StateOptions.openExistingStore(args, readOnly: false)
            let count = try StateOptions.attempt { try store.resend(matching: query, nowMs: now) }
            Terminal.out("queued \(Plural.count(count, "failed delivery", "failed deliveries")) for resend")
            return
        }
        guard !args.positionals.isEmpty else { throw .usage("give the WHD_IDs to resend, or --failed") }
        let store = try StateOptions.openExistingStore(args, readOnly: false)
        let result = try StateOptions.attempt { try store.resendReporting(ids: args.positionals, nowMs: now) }
        Terminal.out("queued \(Plural.count(result.queued.count, "delivery", "deliveries")) for resend")
        // Say why each other id was not queued: it is in flight (the only refusal), or unknown.
        var reasons = result.inFlight.map(Self.inFlightReason)
        let unknown = result.unknown
        if !unknown.isEmpty { reasons.append("unknown delivery id\(unknown.count == 1 ? "" : "s"): \(unknown.joined(separator: ", "))") }
        if !reasons.isEmpty { throw .failed(reasons.joined(separator: "\n")) }
    }

    /// Why a delivery in flight was not queued.
    static func inFlightReason(_ id: String) -> String {
        "cannot resend \(id): it is in flight (an attempt is being sent right now, or a runner was killed "
            + "mid-attempt and its next start puts it back in the queue); resend it once the attempt is recorded"
    }
}
