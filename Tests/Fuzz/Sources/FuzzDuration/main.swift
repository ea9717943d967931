import FuzzSupport
import LoyaliHooks

// Durations from config, flags and the admin API on any text: never a crash. A parsed duration
// is not negative, not above the limit it was parsed against, and its config rendering parses
// back to the same duration; a `since` cutoff is never after now.
enum Target {
    static let limits = [Duration.maximumWait, Duration.maximumRetryDelay, Duration.maximumLookBack]
    static let clocks: [Int64] = [0, 1_700_000_000_000, 4_102_444_800_000]
}

runFuzzer { data, size in
    let text = String(decoding: fuzzBytes(data, size), as: UTF8.self)
    if let duration = Duration.parse(config: text) {
        require(duration >= .zero && duration <= Duration.maximumLookBack, "'\(text)' gave \(duration)")
        require(duration.totalMilliseconds >= 0, "negative milliseconds from '\(text)'")
        let shown = duration.configDescription
        require(Duration.parse(config: shown) == duration, "'\(text)' → \(shown) does not parse back")
    }
    for limit in Target.limits {
        switch Duration.parse(config: text, maximum: limit) {
        case .success(let duration):
            require(duration >= .zero && duration <= limit, "'\(text)' gave \(duration) over \(limit)")
        case .failure(.tooLong(let maximum)):
            require(maximum == limit, "'\(text)' reported the limit \(maximum), not \(limit)")
        case .failure(.malformed):
            break
        }
    }
    for now in Target.clocks {
        if case .success(let cutoff) = Duration.lookBackCutoffMs(text, name: "--since", nowMs: now) {
            require(cutoff <= now, "cutoff \(cutoff) after now \(now) for '\(text)'")
        }
    }
    return 0
}
