/// How a sink backs off when its receiver answers 429 Too Many Requests without a
/// `Retry-After`: multiplicative decrease, gradual recovery (AIMD).
///
/// Each such answer halves the sink's pace, its in-flight limit and its `rate_limit` alike,
/// down to 1/64 of them; from then on the pace grows back by a tenth of the full pace per second,
/// so a sink halved once is back to full speed 5 s later if nothing is refused meanwhile. Only
/// one halving counts per round trip: attempts started before the last halving were sent at the
/// old pace, and their 429s say nothing new.
///
/// A 429 *with* `Retry-After` is the receiver saying when to come back: that delivery waits as
/// long (see ``RetryDecision``), and the pace is left alone.
struct SinkThrottle: Sendable {
    /// The smallest share of the full pace.
    static let floor = 1.0 / 64
    /// Share of the full pace regained per second without a 429.
    static let recoveryPerSecond = 0.1

    /// The share at the last halving (1 before any).
    private var share = 1.0
    /// When the last halving happened; attempts started before it do not halve again.
    private(set) var slowedAtMs: Int64 = .min

    /// The share of the full pace at `nowMs`, between ``floor`` and 1.
    func share(nowMs: Int64) -> Double {
        guard share < 1, slowedAtMs != .min else { return 1 }
        let elapsed = Double(max(0, nowMs - slowedAtMs)) / 1_000
        return min(1, share + Self.recoveryPerSecond * elapsed)
    }

    /// Whether the pace is below full at `nowMs`.
    func isSlowed(nowMs: Int64) -> Bool { share(nowMs: nowMs) < 1 }

    /// A 429 without `Retry-After` came back for an attempt started at `startedAtMs`: halves the
    /// pace, unless the attempt was started before the last halving. Returns whether it did.
    @discardableResult
    mutating func refused(startedAtMs: Int64, nowMs: Int64) -> Bool {
        guard slowedAtMs == .min || startedAtMs >= slowedAtMs else { return false }
        share = max(Self.floor, share(nowMs: nowMs) / 2)
        slowedAtMs = nowMs
        return true
    }

    /// `limit` scaled by the pace at `nowMs`, at least 1.
    func inFlightLimit(_ limit: Int, nowMs: Int64) -> Int {
        let current = share(nowMs: nowMs)
        guard current < 1 else { return limit }
        return max(1, Int((Double(limit) * current).rounded(.down)))
    }
}
