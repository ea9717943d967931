/// Checks Standard Webhooks headers as the reference libraries do: the timestamp must be within
/// `tolerance` seconds of now, then any `v1` signature made with any of the secrets passes,
/// compared in constant time.
public struct StandardWebhooksVerifier: Sendable {
    private let scheme: StandardWebhooksScheme
    /// Allowed distance, in seconds, between `webhook-timestamp` and now; 0 disables the check.
    public let tolerance: Int64

    /// A verifier accepting signatures from any of `secrets`; throws if one is not `whsec_` + base64.
    public init(secrets: [WebhookSecret], tolerance: Int64 = 300) throws(SigningError) {
        scheme = try StandardWebhooksScheme(secrets: secrets)
        self.tolerance = tolerance
    }

    /// Returns normally if the three header values sign `body`, else throws the reason.
    /// - Parameters:
    ///   - id: the `webhook-id` value.
    ///   - timestamp: the `webhook-timestamp` value.
    ///   - signatureHeader: the `webhook-signature` value, `v1,<base64>` entries separated by spaces.
    public func verify(
        id: String, timestamp: String, signatureHeader: String, body: UnsafeRawBufferPointer, now: Int64
    ) throws(SignatureVerificationError) {
        guard !id.isEmpty else { throw .malformedHeader("webhook-id is empty") }
        let timestampText = Substring(timestamp).trimmingHeaderWhitespace()
        guard !timestampText.isEmpty else { throw .noTimestamp }
        let seconds = try SignatureVerificationError.parseTimestamp(timestampText)
        let received = try Self.parseSignatures(signatureHeader)
        try SignatureVerificationError.checkTimestamp(seconds, now: now, tolerance: tolerance)
        let expected = scheme.signatures(body: body, id: id, timestamp: seconds)
        // Compare every pair so the time taken does not depend on which one (if any) matched.
        var matched = false
        for signature in received {
            for candidate in expected where ConstantTime.equals(signature.utf8, candidate.utf8) {
                matched = true
            }
        }
        guard matched else { throw .noMatch }
    }

    /// Same as `verify(id:timestamp:signatureHeader:body:now:)` for a body held in an array.
    public func verify(
        id: String, timestamp: String, signatureHeader: String, body: [UInt8], now: Int64
    ) throws(SignatureVerificationError) {
        // Array.withUnsafeBytes only rethrows untyped errors, so the typed error is carried out.
        let failure: SignatureVerificationError? = body.withUnsafeBytes { buffer -> SignatureVerificationError? in
            do throws(SignatureVerificationError) {
                try verify(id: id, timestamp: timestamp, signatureHeader: signatureHeader, body: buffer, now: now)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// The base64 parts of the `v1,<base64>` entries; other versions are ignored.
    static func parseSignatures(_ header: String) throws(SignatureVerificationError) -> [Substring] {
        let trimmed = Substring(header).trimmingHeaderWhitespace()
        guard !trimmed.isEmpty else { throw .malformedHeader("header is empty") }
        var signatures: [Substring] = []
        for entry in trimmed.splitHeader(on: UInt8(ascii: " ")) where !entry.isEmpty {
            guard let comma = entry.firstIndex(ofASCII: UInt8(ascii: ",")), comma != entry.startIndex else {
                throw .malformedHeader("element '\(entry)' is not version,signature")
            }
            if entry[..<comma] == "v1" { signatures.append(entry[entry.index(after: comma)...]) }
        }
        guard !signatures.isEmpty else { throw .noV1Signature }
        return signatures
    }
}
