import FuzzSupport
import LoyaliHooks

// Duration.parse(config:) on any text: never a crash; a parsed duration is not negative, and
// its config rendering parses back to the same duration.
runFuzzer { data, size in
    let text = String(decoding: fuzzBytes(data, size), as: UTF8.self)
    guard let duration = Duration.parse(config: text) else { return 0 }
    require(duration >= .zero, "negative duration from '\(text)'")
    let milliseconds = duration.totalMilliseconds
    require(milliseconds >= 0, "negative milliseconds from '\(text)'")
    let shown = duration.configDescription
    require(Duration.parse(config: shown) == duration, "'\(text)' → \(shown) does not parse back")
    return 0
}
