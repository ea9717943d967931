/// A sink's `rate_limit:`: at most `count` attempts per `periodMs`, with room for a short burst.
///
/// ```yaml
/// rate_limit: 50/s                      # or 600/m, 3000/h
/// rate_limit: { rate: 50/s, burst: 10 }
/// ```
///
/// Every attempt of the sink counts, first attempts and retries alike, whatever its
/// `max_in_flight`. The limit holds per runner: two nodes sharing a store send at most twice it.
public struct RateLimit: Sendable, Equatable {
    /// Attempts allowed per period.
    public var count: Double
    /// The period, in milliseconds (1 s, 1 min or 1 h).
    public var periodMs: Int64
    /// Attempts that may go at once after a quiet spell (the bucket's size).
    public var burst: Int

    /// A limit of `count` per `periodMs`, with ``defaultBurst(count:periodMs:)`` unless given.
    public init(count: Double, periodMs: Int64, burst: Int? = nil) {
        self.count = count
        self.periodMs = periodMs
        self.burst = burst ?? Self.defaultBurst(count: count, periodMs: periodMs)
    }

    /// Attempts per millisecond.
    public var perMs: Double { count / Double(periodMs) }

    /// The default burst: 50 ms worth of the rate, at least 1. A bucket of `b` lets through at
    /// most `rate + b - 1` in any second, so a receiver sees at most the rate plus 5% over any
    /// second, which leaves room under a 10% target for the network's jitter, while a lane woken
    /// a little late still catches up; a burst of 1 spaces attempts evenly.
    public static func defaultBurst(count: Double, periodMs: Int64) -> Int {
        max(1, Int((count / Double(periodMs) * 50).rounded(.down)))
    }

    /// The largest rate accepted, per second: above it the lane's millisecond timers are too
    /// coarse to pace attempts, and no single sink needs it.
    public static let maximumPerSecond = 100_000.0

    /// The grammar of the scalar form, for the JSON Schema.
    public static let pattern = #"^[0-9]+(\.[0-9]+)?/(s|m|h)$"#

    /// Parses `50/s`, `600/m` or `3000/h` (a positive number, `/`, a unit); `nil` for anything else.
    public static func parse(_ text: String) -> RateLimit? {
        let parts = text.trimmingSpaces().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let count = Double(parts[0]), count.isFinite, count > 0
        else { return nil }
        let periodMs: Int64
        switch parts[1].trimmingSpaces() {
        case "s": periodMs = 1_000
        case "m": periodMs = 60_000
        case "h": periodMs = 3_600_000
        default: return nil
        }
        return RateLimit(count: count, periodMs: periodMs)
    }

    /// The limit as written in a pipeline file.
    public var description: String {
        let unit = periodMs == 1_000 ? "s" : periodMs == 60_000 ? "m" : "h"
        let number = count == count.rounded() ? String(Int(count)) : String(count)
        return "\(number)/\(unit)"
    }
}

extension ConfigReader {
    /// Reads a sink's `rate_limit:`, the scalar (`50/s`) or the mapping (`{ rate: 50/s, burst: 5 }`)
    /// form, reporting problems where they are written.
    func rateLimit(_ node: YAMLNode) -> RateLimit? {
        var rateNode = node
        var burst: Int?
        if case .mapping = node.content {
            guard let mapping = mapping(node, allowedKeys: PipelineKeys.rateLimit.names, in: "rate_limit") else { return nil }
            guard require(["rate"], in: mapping, context: "rate_limit") else { return nil }
            rateNode = mapping["rate"]!
            if let burstNode = mapping["burst"] {
                guard let value = integer(burstNode, what: "rate_limit.burst", in: 1...1_000_000) else { return nil }
                burst = value
            }
        }
        guard let text = string(rateNode, what: "rate_limit") else { return nil }
        guard var limit = RateLimit.parse(text) else {
            error("rate_limit must be a rate such as 50/s, 600/m or 3000/h, not \(quoted(rateNode, text))", at: rateNode)
            return nil
        }
        guard limit.perMs * 1_000 <= RateLimit.maximumPerSecond else {
            error("rate_limit \(text) is above the most a sink may be paced at, \(Int(RateLimit.maximumPerSecond))/s", at: rateNode)
            return nil
        }
        if let burst { limit.burst = burst }
        return limit
    }
}
