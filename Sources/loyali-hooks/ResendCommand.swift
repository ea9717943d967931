import LoyaliHooks

/// `loyali-hooks resend WHD_ID…` and `loyali-hooks resend --failed [filters]`
enum ResendCommand {
    static let usage = """
        USAGE: loyali-hooks resend WHD_ID… [--state DIR]
               loyali-hooks resend --failed [--pipeline P] [--sink S] [--event-type T] [--since 24h] [--state DIR]

        Queues fresh attempts for deliveries: same whd_ id (receivers dedupe on it), a fresh
        signature at send time, and the sink's retry schedule starting over. A running
        'loyali-hooks run' picks them up within a second; otherwise 'run --once' sends them.

        EXAMPLES:
          loyali-hooks resend whd_3399ea5c12101c5af09822cd02fce6e4
          loyali-hooks resend --failed --pipeline fulfillment --since 24h
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(
            raw, options: ["--pipeline", "--sink", "--event-type", "--since", "--state"], flags: ["--failed"])
        let now = Terminal.now * 1000
        if args.has("--failed") {
            guard args.positionals.isEmpty else { throw .usage("give either WHD_IDs or --failed, not both") }
            var query = try DeliveryFilters.query(args, forcedStatus: .failed)
            query.limit = Int.max
            let store = try StateOptions.openStore(args)
            let count = try StateOptions.attempt { try store.resend(matching: query, nowMs: now) }
            Terminal.out("queued \(count) failed deliver\(count == 1 ? "y" : "ies") for resend")
            return
        }
        guard !args.positionals.isEmpty else { throw .usage("give the WHD_IDs to resend, or --failed") }
        let store = try StateOptions.openStore(args)
        let queued = try StateOptions.attempt { try store.resend(ids: args.positionals, nowMs: now) }
        let unknown = args.positionals.filter { !queued.contains($0) }
        Terminal.out("queued \(queued.count) deliver\(queued.count == 1 ? "y" : "ies") for resend")
        if !unknown.isEmpty { throw .failed("unknown delivery id(s): \(unknown.joined(separator: ", "))") }
    }
}
