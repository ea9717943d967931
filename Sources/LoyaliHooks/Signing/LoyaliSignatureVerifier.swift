/// Checks `X-Loyali-Signature` headers the way Stripe's libraries check `Stripe-Signature`:
/// any `v1` made with any of the secrets passes, signatures are compared in constant time, and the
/// timestamp must be within `tolerance` seconds of now.
public struct LoyaliSignatureVerifier: Sendable {
    private let scheme: LoyaliSignatureScheme
    /// Allowed distance, in seconds, between the header's timestamp and now; 0 disables the check.
    public let tolerance: Int64

    /// A verifier accepting signatures from any of `secrets` (e.g. the current and previous one).
    public init(secrets: [WebhookSecret], tolerance: Int64 = 300) {
        scheme = LoyaliSignatureScheme(secrets: secrets)
        self.tolerance = tolerance
    }

    /// Returns normally if `header` is a valid signature of `body`, else throws the reason.
    ///
    /// As in Stripe's libraries the signature is checked before the timestamp's age, so a
    /// stale but authentic delivery is reported as too old rather than as a mismatch.
    public func verify(header: String, body: UnsafeRawBufferPointer, now: Int64) throws(SignatureVerificationError) {
        let parsed = try Self.parse(header)
        let expected = scheme.expectedHexSignatures(body: body, timestamp: parsed.timestamp)
        // Compare every pair so the time taken does not depend on which one (if any) matched.
        var matched = false
        for received in parsed.signatures {
            for candidate in expected where ConstantTime.equals(received.utf8, candidate) {
                matched = true
            }
        }
        guard matched else { throw .noMatch }
        try SignatureVerificationError.checkTimestamp(parsed.timestamp, now: now, tolerance: tolerance)
    }

    /// Same as `verify(header:body:now:)` for a body held in an array.
    public func verify(header: String, body: [UInt8], now: Int64) throws(SignatureVerificationError) {
        // Array.withUnsafeBytes only rethrows untyped errors, so the typed error is carried out.
        let failure: SignatureVerificationError? = body.withUnsafeBytes { buffer -> SignatureVerificationError? in
            do throws(SignatureVerificationError) {
                try verify(header: header, body: buffer, now: now)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Splits `t=<t>,v1=<sig>,...` into the timestamp and the `v1` values; other keys are ignored.
    static func parse(_ header: String) throws(SignatureVerificationError) -> (timestamp: Int64, signatures: [Substring]) {
        let trimmed = Substring(header).trimmingHeaderWhitespace()
        guard !trimmed.isEmpty else { throw .malformedHeader("header is empty") }
        var timestamp: Int64?
        var signatures: [Substring] = []
        for rawElement in trimmed.splitHeader(on: UInt8(ascii: ",")) {
            let element = rawElement.trimmingHeaderWhitespace()
            guard !element.isEmpty else { throw .malformedHeader("header has an empty element") }
            guard let equals = element.firstIndex(ofASCII: UInt8(ascii: "=")), equals != element.startIndex else {
                throw .malformedHeader("element '\(element)' is not key=value")
            }
            let key = element[..<equals]
            let value = element[element.index(after: equals)...]
            switch key {
            case "t":
                guard timestamp == nil else { throw .malformedHeader("header has more than one timestamp") }
                timestamp = try SignatureVerificationError.parseTimestamp(value)
            case "v1":
                signatures.append(value)
            default:
                continue  // v0 and future schemes: ignored, as Stripe does.
            }
        }
        guard let timestamp else { throw .noTimestamp }
        guard !signatures.isEmpty else { throw .noV1Signature }
        return (timestamp, signatures)
    }
}

extension Substring {
    /// The text without leading and trailing spaces and tabs (HTTP optional whitespace).
    /// Works on UTF-8 bytes: both are ASCII, so the resulting indices are character boundaries.
    func trimmingHeaderWhitespace() -> Substring {
        let bytes = utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") {
            start = bytes.index(after: start)
        }
        while start < end {
            let last = bytes.index(before: end)
            guard bytes[last] == UInt8(ascii: " ") || bytes[last] == UInt8(ascii: "\t") else { break }
            end = last
        }
        return self[start..<end]
    }

    /// Splits on an ASCII byte, keeping empty pieces; avoids Character iteration on a hot parse path.
    func splitHeader(on separator: UInt8) -> [Substring] {
        utf8.split(separator: separator, omittingEmptySubsequences: false).map { Substring($0) }
    }

    /// The index of the first occurrence of an ASCII byte.
    func firstIndex(ofASCII byte: UInt8) -> Index? {
        utf8.firstIndex(of: byte)
    }
}
