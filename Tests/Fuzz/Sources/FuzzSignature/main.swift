import FuzzSupport
import LoyaliHooks

// Both signature schemes. The input is four lines and a body:
//   signature header (X-Loyali-Signature or webhook-signature) \n webhook-id \n timestamp \n
//   secret \n body
// - Parsing and verifying any header against any body never crashes.
// - A fuzzed header that verifies for the fixed secrets carries a signature one of them made over
//   this body at a timestamp within the tolerance; anything else passing would be a forgery.
// - Signing the body (fuzzed secret, id and a non-negative timestamp) and verifying the result
//   passes; after flipping one body bit it fails with `noMatch`.
enum Target {
    static let now: Int64 = 1_700_000_000
    static let secrets = [WebhookSecret(FuzzSecrets.current), WebhookSecret(FuzzSecrets.previous)]
    static let loyali = LoyaliSignatureVerifier(secrets: secrets, tolerance: 300)
    static let standard = try! StandardWebhooksVerifier(secrets: secrets, tolerance: 300)
}

/// Splits off the first `count` lines; the rest, newlines included, is the body.
func split(_ bytes: UnsafeBufferPointer<UInt8>, lines count: Int) -> (lines: [String], body: [UInt8]) {
    var lines: [String] = []
    var start = 0
    var index = 0
    while lines.count < count, index < bytes.count {
        if bytes[index] == UInt8(ascii: "\n") {
            lines.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
            start = index + 1
        }
        index += 1
    }
    while lines.count < count {
        lines.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start...]), as: UTF8.self))
        start = bytes.count
    }
    return (lines, Array(bytes[start...]))
}

/// Whether `header` holds a signature that one of the fixed secrets gives `body` at some
/// timestamp within the tolerance: `loyali` when `id` is nil, else `standard-webhooks`.
func carriesGenuineSignature(_ header: String, body: [UInt8], id: String?) -> Bool {
    for secret in Target.secrets {
        for timestamp in (Target.now - 300)...(Target.now + 300) {
            let expected: String
            if let id {
                guard let scheme = try? StandardWebhooksScheme(secrets: [secret]) else { continue }
                let headers = body.withUnsafeBytes { scheme.signatureHeaders(body: $0, deliveryID: id, timestamp: timestamp) }
                expected = String(headers.first { $0.name == StandardWebhooksScheme.signatureHeaderName }!.value.dropFirst(3))
            } else {
                let value = body.withUnsafeBytes { LoyaliSignatureScheme(secrets: [secret]).headerValue(body: $0, timestamp: timestamp) }
                expected = String(value.drop { $0 != "," }.dropFirst(4))  // the hex after ",v1="
            }
            if header.contains(expected) { return true }
        }
    }
    return false
}

runFuzzer { data, size in
    let (lines, body) = split(fuzzBytes(data, size), lines: 4)
    let (header, id, timestampText, secretText) = (lines[0], lines[1], lines[2], lines[3])

    // Fuzzed headers against the fixed secrets: errors are fine, a pass is a forgery.
    do throws(SignatureVerificationError) {
        try Target.loyali.verify(header: header, body: body, now: Target.now)
        require(carriesGenuineSignature(header, body: body, id: nil), "a forged X-Loyali-Signature verified: \(header)")
    } catch {
        _ = error.description
    }
    do throws(SignatureVerificationError) {
        try Target.standard.verify(id: id, timestamp: timestampText, signatureHeader: header, body: body, now: Target.now)
        require(carriesGenuineSignature(header, body: body, id: id), "a forged webhook-signature verified: \(header)")
    } catch {
        _ = error.description
    }

    // Round trip with the fuzzed secret, id and timestamp.
    let timestamp = Int64(timestampText).map { $0 < 0 ? $0 & .max : $0 } ?? Target.now
    let secret = WebhookSecret(secretText)
    guard !secret.isEmpty else { return 0 }
    var tampered = body
    if tampered.isEmpty { tampered = [0] } else { tampered[tampered.count / 2] ^= 0x01 }

    let signer = LoyaliSignatureScheme(secrets: [secret])
    let verifier = LoyaliSignatureVerifier(secrets: [WebhookSecret(FuzzSecrets.previous), secret], tolerance: 300)
    let signed = body.withUnsafeBytes { signer.headerValue(body: $0, timestamp: timestamp) }
    do throws(SignatureVerificationError) {
        try verifier.verify(header: signed, body: body, now: timestamp)
    } catch {
        fail("loyali: own signature rejected (\(error)): \(signed)")
    }
    do throws(SignatureVerificationError) {
        try verifier.verify(header: signed, body: tampered, now: timestamp)
        fail("loyali: signature verified a tampered body")
    } catch {
        require(error == .noMatch, "loyali: tampered body gave \(error), not noMatch")
    }

    // A standard-webhooks secret must be whsec_ + base64; others are refused with a reason.
    let standardSigner: StandardWebhooksScheme
    do throws(SigningError) {
        standardSigner = try StandardWebhooksScheme(secrets: [secret])
    } catch {
        // Short secrets ("whsec_", "secret") occur in the message's own words.
        require(secretText.count < 24 || !error.message.contains(secretText), "the secret is quoted: \(error.message)")
        return 0
    }
    let messageID = id.isEmpty ? "whd_fuzz" : id
    let headers = body.withUnsafeBytes {
        standardSigner.signatureHeaders(body: $0, deliveryID: messageID, timestamp: timestamp)
    }
    func value(_ name: String) -> String {
        guard let header = headers.first(where: { $0.name == name }) else { fail("no \(name) header") }
        return header.value
    }
    let standardVerifier: StandardWebhooksVerifier
    do throws(SigningError) {
        standardVerifier = try StandardWebhooksVerifier(secrets: [secret, WebhookSecret(FuzzSecrets.current)])
    } catch {
        fail("a secret the signer took is refused by the verifier: \(error)")
    }
    let sentID = value(StandardWebhooksScheme.idHeaderName)
    let sentTimestamp = value(StandardWebhooksScheme.timestampHeaderName)
    let sentSignature = value(StandardWebhooksScheme.signatureHeaderName)
    do throws(SignatureVerificationError) {
        try standardVerifier.verify(
            id: sentID, timestamp: sentTimestamp, signatureHeader: sentSignature, body: body, now: timestamp)
    } catch {
        fail("standard-webhooks: own signature rejected (\(error)): \(sentSignature)")
    }
    do throws(SignatureVerificationError) {
        try standardVerifier.verify(
            id: sentID, timestamp: sentTimestamp, signatureHeader: sentSignature, body: tampered, now: timestamp)
        fail("standard-webhooks: signature verified a tampered body")
    } catch {
        require(error == .noMatch, "standard-webhooks: tampered body gave \(error), not noMatch")
    }
    return 0
}
