/// A token bucket on a millisecond clock: tokens refill at a steady rate up to the bucket's
/// size, and each attempt takes one. Time is passed in, so tests drive it with any clock.
///
/// Refilling from the time actually elapsed means a lane that wakes a little late makes up for
/// it (up to the bucket's size) instead of losing the rate.
struct TokenBucket: Sendable {
    /// Tokens added per millisecond.
    private(set) var perMs: Double
    /// The most tokens it holds.
    let capacity: Double
    private var tokens: Double
    private var lastMs: Int64

    /// Tolerance for the floating-point sums, so a wait computed to reach one token finds it
    /// and is not a millisecond longer than it has to be.
    private static let epsilon = 1e-6

    /// A full bucket at `nowMs`.
    init(perMs: Double, capacity: Int, nowMs: Int64) {
        self.perMs = perMs
        self.capacity = Double(max(1, capacity))
        tokens = self.capacity
        lastMs = nowMs
    }

    private mutating func refill(nowMs: Int64) {
        guard nowMs > lastMs else { return }
        tokens = min(capacity, tokens + Double(nowMs - lastMs) * perMs)
        lastMs = nowMs
    }

    /// Takes a token if one is there.
    mutating func take(nowMs: Int64) -> Bool {
        refill(nowMs: nowMs)
        guard tokens + Self.epsilon >= 1 else { return false }
        tokens = max(0, tokens - 1)
        return true
    }

    /// When the next token will be there (`nowMs` if one is).
    mutating func readyAtMs(nowMs: Int64) -> Int64 {
        refill(nowMs: nowMs)
        let missing = 1 - tokens
        guard missing > Self.epsilon else { return nowMs }
        return nowMs + max(1, Int64((missing / perMs - Self.epsilon).rounded(.up)))
    }

    /// Changes the refill rate from `nowMs` on; what was earned at the old rate is kept.
    mutating func setRate(perMs newRate: Double, nowMs: Int64) {
        refill(nowMs: nowMs)
        perMs = newRate
    }
}
