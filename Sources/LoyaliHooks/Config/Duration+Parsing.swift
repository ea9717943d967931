extension Duration {
    /// The longest wait: sink `timeout` and `connect_timeout`, plugin `timeout` and
    /// `start_timeout`, and the `--grace`, `--delay`, `--idle-timeout` and `--request-timeout` flags.
    public static let maximumWait = Duration.seconds(86_400)
    /// The longest retry delay: each `retry.schedule` entry and `retry.max_retry_after`.
    public static let maximumRetryDelay = Duration.seconds(365 * 86_400)
    /// The longest look-back window (`--since`, `?since=`), and the most any duration may be.
    /// Every limit is far below `Int64` milliseconds, so sums of a few of them with a clock reading
    /// cannot overflow.
    public static let maximumLookBack = Duration.seconds(36_500 * 86_400)

    /// Why a config duration was refused.
    public enum ConfigParseError: Error, Sendable, Equatable {
        /// Not a number followed by `ms`, `s`, `m`, `h` or `d`.
        case malformed
        /// Well formed, but longer than the limit that applies.
        case tooLong(maximum: Duration)
    }

    /// The grammar ``parse(config:)`` accepts, as a regular expression: what the JSON Schema
    /// requires of a duration (a test checks the two agree).
    public static let configPattern = #"^(0|([0-9]+\.?[0-9]*|\.[0-9]+)(ms|s|m|h|d))$"#

    /// Parses a config duration: an integer or decimal followed by `ms`, `s`, `m`, `h` or `d`
    /// (`500ms`, `10s`, `1.5m`, `2h`, `1d`). A bare `0` means zero. Returns `nil` for anything else,
    /// and for anything longer than ``maximumLookBack``.
    public static func parse(config text: String) -> Duration? {
        try? parse(config: text, maximum: maximumLookBack).get()
    }

    /// Parses a config duration that may be at most `maximum`. The number is compared with the
    /// limit before it becomes an integer, so no digit string can overflow.
    public static func parse(config text: String, maximum: Duration) -> Result<Duration, ConfigParseError> {
        let text = text.trimmingSpaces()
        if text == "0" { return .success(.zero) }
        let units: [(suffix: String, millis: Double)] = [
            ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            // "5ms" also ends in "s"; the ordered list tries "ms" first, and a leftover "m" fails here.
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                let value = Double(number), value.isFinite
            else { continue }
            let millis = (value * unit.millis).rounded()
            guard millis <= Double(maximum.totalMilliseconds) else { return .failure(.tooLong(maximum: maximum)) }
            return .success(.milliseconds(Int64(millis)))
        }
        return .failure(.malformed)
    }

    /// A `since` window (`--since 1h`, `?since=1h`) as a cutoff in Unix milliseconds, or a message
    /// naming `name` that says why `text` is not one.
    public static func lookBackCutoffMs(_ text: String, name: String, nowMs: Int64) -> Result<Int64, LookBackError> {
        switch parse(config: text, maximum: maximumLookBack) {
        case .success(let window):
            return .success(nowMs.saturatingSubtract(window.totalMilliseconds))
        case .failure(.malformed):
            return .failure(LookBackError(message: "\(name) must be a duration such as 30m, 1h or 7d, not '\(text)'"))
        case .failure(.tooLong(let maximum)):
            return .failure(LookBackError(message: "\(name) must be at most \(maximum.configDescription), not '\(text)'"))
        }
    }

    /// Why a `since` window was refused.
    public struct LookBackError: Error, Sendable, Equatable {
        /// The sentence to show the user.
        public var message: String
    }

    /// Whole milliseconds in this duration, saturating at the `Int64` bounds.
    public var totalMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (millis, overflow) = seconds.multipliedReportingOverflow(by: 1_000)
        if overflow { return seconds < 0 ? .min : .max }
        return millis.saturatingAdd(attoseconds / 1_000_000_000_000_000)
    }

    /// Whole nanoseconds for monotonic-clock deadlines: 0 for a negative duration, `UInt64.max`
    /// past it, never a trap (server limits are public and may be set from code).
    public var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, overflow2) = whole.addingReportingOverflow(UInt64(max(0, attoseconds / 1_000_000_000)))
        return overflow || overflow2 ? .max : sum
    }

    /// A compact rendering in the config syntax: `1m`, `2h`, `1500ms`.
    public var configDescription: String {
        let ms = totalMilliseconds
        for (suffix, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)]
        where ms >= size && ms % size == 0 {
            return "\(ms / size)\(suffix)"
        }
        return ms == 0 ? "0s" : "\(ms)ms"
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines (no Foundation needed).
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }),
            let last = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}
