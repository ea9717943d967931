/// Parses an HTTP `Retry-After` value (RFC 9110 §10.2.3): delta-seconds (`120`) or an HTTP-date,
/// in any of the three forms recipients must accept (§5.6.7): IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), obsolete RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and
/// asctime (`Sun Nov  6 08:49:37 1994`).
///
/// The value comes from a receiver over the network, so nothing in it is trusted: every field has
/// a fixed width and range, every sum saturates, and anything else is `nil` (treated as absent).
public enum RetryAfter {
    /// The delay in milliseconds from `nowMs`, or `nil` when the value is malformed. A date in the
    /// past means no extra delay; a delay too long for `Int64` is `Int64.max` (callers clamp it to
    /// `max_retry_after`).
    public static func delayMs(_ value: String, nowMs: Int64) -> Int64? {
        let bytes = Array(value.trimmingSpaces().utf8)
        if !bytes.isEmpty, bytes.allSatisfy(isDigit) {
            var seconds: Int64 = 0
            for byte in bytes {
                seconds = seconds.saturatingMultiply(10).saturatingAdd(Int64(byte &- 0x30))
            }
            return seconds.saturatingMultiply(1_000)
        }
        guard let dateMs = httpDateMs(bytes, nowMs: nowMs) else { return nil }
        return max(0, dateMs.saturatingSubtract(nowMs))
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` as Unix milliseconds.
    static func imfFixdateMs(_ text: String) -> Int64? {
        imfFixdate(Array(text.utf8))
    }

    /// Any of the three HTTP-date forms as Unix milliseconds.
    static func httpDateMs(_ bytes: [UInt8], nowMs: Int64) -> Int64? {
        imfFixdate(bytes) ?? rfc850Date(bytes, nowMs: nowMs) ?? asctimeDate(bytes)
    }

    // MARK: The three forms

    /// `Sun, 06 Nov 1994 08:49:37 GMT`: exactly 29 bytes.
    private static func imfFixdate(_ b: [UInt8]) -> Int64? {
        guard b.count == 29, shortDays.contains(Array(b[0..<3])), b[3] == comma, b[4] == space,
            let day = digits(b, 5, 2), b[7] == space, let month = month(b, 8), b[11] == space,
            let year = digits(b, 12, 4), b[16] == space, let time = time(b, 17), b[25] == space,
            Array(b[26..<29]) == gmt
        else { return nil }
        return unixMs(year: year, month: month, day: day, time: time)
    }

    /// `Sunday, 06-Nov-94 08:49:37 GMT`: a full day name, then 24 fixed bytes. The two-digit year
    /// is the one nearest `nowMs` that is not more than 50 years ahead (RFC 9110 §5.6.7).
    private static func rfc850Date(_ b: [UInt8], nowMs: Int64) -> Int64? {
        guard let commaAt = b.firstIndex(of: comma), longDays.contains(Array(b[..<commaAt])),
            b.count == commaAt + 24, b[commaAt + 1] == space
        else { return nil }
        let s = commaAt + 2
        guard let day = digits(b, s, 2), b[s + 2] == dash, let month = month(b, s + 3), b[s + 6] == dash,
            let shortYear = digits(b, s + 7, 2), b[s + 9] == space, let time = time(b, s + 10),
            b[s + 18] == space, Array(b[(s + 19)..<(s + 22)]) == gmt
        else { return nil }
        let nowYear = RFC3339.civilDate(daysSinceEpoch: nowMs / 86_400_000).year
        var year = nowYear - nowYear % 100 + shortYear
        if year > nowYear + 50 { year -= 100 }
        return unixMs(year: year, month: month, day: day, time: time)
    }

    /// `Sun Nov  6 08:49:37 1994`: exactly 24 bytes, the day padded with a space.
    private static func asctimeDate(_ b: [UInt8]) -> Int64? {
        guard b.count == 24, shortDays.contains(Array(b[0..<3])), b[3] == space, let month = month(b, 4),
            b[7] == space, b[10] == space, let time = time(b, 11), b[19] == space, let year = digits(b, 20, 4)
        else { return nil }
        let day: Int64
        if b[8] == space, let units = digits(b, 9, 1) {
            day = units
        } else if let both = digits(b, 8, 2) {
            day = both
        } else {
            return nil
        }
        return unixMs(year: year, month: month, day: day, time: time)
    }

    // MARK: Fields

    private static let space = UInt8(ascii: " "), comma = UInt8(ascii: ","), dash = UInt8(ascii: "-")
    private static let gmt = Array("GMT".utf8)
    private static let shortDays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map { Array($0.utf8) }
    private static let longDays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        .map { Array($0.utf8) }
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .map { Array($0.utf8) }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// `count` ASCII digits at `start` (at most 4, so the value cannot overflow), or `nil`.
    private static func digits(_ b: [UInt8], _ start: Int, _ count: Int) -> Int64? {
        guard start >= 0, start + count <= b.count else { return nil }
        var value: Int64 = 0
        for byte in b[start..<(start + count)] {
            guard isDigit(byte) else { return nil }
            value = value * 10 + Int64(byte - 0x30)
        }
        return value
    }

    /// A month name at `start` as 1...12.
    private static func month(_ b: [UInt8], _ start: Int) -> Int64? {
        guard start + 3 <= b.count, let index = months.firstIndex(of: Array(b[start..<(start + 3)])) else { return nil }
        return Int64(index + 1)
    }

    /// `HH:MM:SS` at `start`, in range (a leap second's `60` is allowed), as seconds of the day.
    private static func time(_ b: [UInt8], _ start: Int) -> Int64? {
        guard let hour = digits(b, start, 2), start + 8 <= b.count, b[start + 2] == UInt8(ascii: ":"),
            let minute = digits(b, start + 3, 2), b[start + 5] == UInt8(ascii: ":"), let second = digits(b, start + 6, 2),
            hour < 24, minute < 60, second <= 60
        else { return nil }
        return hour * 3_600 + minute * 60 + second
    }

    /// A checked calendar date and time of day as Unix milliseconds.
    private static func unixMs(year: Int64, month: Int64, day: Int64, time: Int64) -> Int64? {
        guard (1...9999).contains(year), day >= 1, day <= Int64(RFC3339.daysIn(month: Int(month), year: Int(year))) else {
            return nil
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        return (days * 86_400 + time) * 1_000
    }

    /// Howard Hinnant's days-from-civil, the inverse of ``RFC3339/civilDate(daysSinceEpoch:)``.
    /// Callers pass years 1...9999, far from any overflow.
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
