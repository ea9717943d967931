/// Why a received webhook signature was rejected. Each case renders one clear sentence.
public enum SignatureVerificationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The header cannot be parsed; the reason says which part is wrong.
    case malformedHeader(String)
    /// The header parses but carries no timestamp.
    case noTimestamp
    /// The header has no `v1` signature (other schemes such as `v0` are ignored).
    case noV1Signature
    /// Signatures are present but none was made with any of the verifier's secrets over this body.
    case noMatch
    /// The timestamp is more than `tolerance` seconds in the past (a possible replay).
    case timestampTooOld(age: Int64, tolerance: Int64)
    /// The timestamp is more than `tolerance` seconds in the future.
    case timestampInFuture(ahead: Int64, tolerance: Int64)

    public var description: String {
        switch self {
        case .malformedHeader(let reason): "malformed signature header: \(reason)"
        case .noTimestamp: "header has no timestamp"
        case .noV1Signature: "header has no v1 signature"
        case .noMatch: "no v1 signature matches the expected signature for the given secret(s)"
        case .timestampTooOld(let age, let tolerance):
            "timestamp is \(age) s old, outside the \(tolerance) s tolerance"
        case .timestampInFuture(let ahead, let tolerance):
            "timestamp is \(ahead) s in the future, outside the \(tolerance) s tolerance"
        }
    }

    /// Rejects `timestamp` if it is more than `tolerance` seconds from `now` either way;
    /// a tolerance of 0 or less disables the check, as in Stripe's libraries.
    static func checkTimestamp(_ timestamp: Int64, now: Int64, tolerance: Int64) throws(Self) {
        guard tolerance > 0 else { return }
        // Saturate instead of trapping when an attacker sends a timestamp near Int64's limits.
        let (difference, overflow) = now.subtractingReportingOverflow(timestamp)
        let age = overflow ? (timestamp < 0 ? Int64.max : Int64.min) : difference
        if age > tolerance { throw .timestampTooOld(age: age, tolerance: tolerance) }
        if age < -tolerance {
            throw .timestampInFuture(ahead: age == .min ? .max : -age, tolerance: tolerance)
        }
    }

    /// Parses a unix-seconds timestamp: ASCII digits only, fitting in `Int64`.
    static func parseTimestamp(_ text: Substring) throws(Self) -> Int64 {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let value = Int64(text)
        else { throw .malformedHeader("timestamp '\(text)' is not an integer") }
        return value
    }
}
