import FuzzSupport
import LoyaliHooks

// RetryAfter on any header value a receiver can send: never a crash, and a delay is never
// negative, at any plausible clock (the epoch, 2023, year 2100).
enum Target {
    static let clocks: [Int64] = [0, 1_700_000_000_000, 4_102_444_800_000]
}

runFuzzer { data, size in
    let value = String(decoding: fuzzBytes(data, size), as: UTF8.self)
    for now in Target.clocks {
        if let delay = RetryAfter.delayMs(value, nowMs: now) {
            require(delay >= 0, "negative delay \(delay) ms for '\(value)' at \(now)")
        }
    }
    return 0
}
