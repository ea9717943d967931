/// Parses an HTTP `Retry-After` value: delta-seconds (`120`) or an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`).
public enum RetryAfter {
    /// The delay in milliseconds from `nowMs`, or `nil` when the value is malformed. A date in the
    /// past means no extra delay.
    public static func delayMs(_ value: String, nowMs: Int64) -> Int64? {
        let text = value.trimmingSpaces()
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let seconds = Int64(text), seconds < Int64.max / 1000 else { return nil }
            return seconds * 1000
        }
        guard let dateMs = imfFixdateMs(text) else { return nil }
        return max(0, dateMs - nowMs)
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` as Unix milliseconds.
    static func imfFixdateMs(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
            let day = Int64(parts[1]), let year = Int64(parts[3]),
            let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                .firstIndex(of: String(parts[2]))
        else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int64($0) }
        guard time.count == 3, (1...31).contains(day), time[0] < 24, time[1] < 60, time[2] <= 60 else { return nil }
        let days = daysFromCivil(year: year, month: Int64(month + 1), day: day)
        return ((days * 86_400) + time[0] * 3_600 + time[1] * 60 + time[2]) * 1000
    }

    /// Howard Hinnant's days-from-civil, the inverse of ``RFC3339/civilDate(daysSinceEpoch:)``.
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
