import Testing

@testable import LoyaliHooks

// MARK: - HMAC-SHA256 and SHA-256

/// RFC 4231 §4 test cases (HMAC-SHA-256 column); case 6 exercises the longer-than-a-block key path.
private let rfc4231Cases: [(name: String, keyHex: String, dataHex: String, macHex: String)] = [
    ("case 1", String(repeating: "0b", count: 20), "4869205468657265",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    ("case 2", "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    ("case 3", String(repeating: "aa", count: 20), String(repeating: "dd", count: 50),
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    ("case 4", "0102030405060708090a0b0c0d0e0f10111213141516171819", String(repeating: "cd", count: 50),
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    ("case 6", String(repeating: "aa", count: 131),
     "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
]

@Test(arguments: rfc4231Cases.indices)
func hmacMatchesRFC4231(index: Int) throws {
    let testCase = rfc4231Cases[index]
    let key = HMACSHA256Key(try #require(Hex.decode(testCase.keyHex)))
    let data = try #require(Hex.decode(testCase.dataHex))
    #expect(Hex.encode(key.authenticate(data)) == testCase.macHex, "\(testCase.name)")
}

@Test func hmacOverPartsEqualsHmacOverConcatenation() {
    let key = HMACSHA256Key(Array("k".utf8))
    let prefix = Array("1700000000.".utf8)
    let body = Array(String(repeating: "{\"a\":1}", count: 40).utf8)  // spans several SHA-256 blocks
    let whole = key.authenticate(prefix + body)
    #expect(body.withUnsafeBytes { key.authenticate(prefix: prefix, body: $0) } == whole)
    let viaParts = prefix.withUnsafeBytes { p in body.withUnsafeBytes { b in key.authenticate(parts: p, b) } }
    #expect(viaParts == whole)
    #expect(whole.count == 32)
    // The key's precomputed state must not be consumed by a call.
    #expect(key.authenticate(prefix + body) == whole)
    #expect(key.authenticate([]) != whole)
}

@Test func sha256KnownDigests() {
    #expect(Hex.encode(SHA256Digest.hash("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(Hex.encode(SHA256Digest.hash("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    let bytes = Array("abc".utf8)
    #expect(bytes.withUnsafeBytes { SHA256Digest.hash($0) } == SHA256Digest.hash("abc"))
}

// MARK: - Signing schemes

private let stripeBody = #"{"id":"evt_1","type":"points.earned"}"#
private let stripeSignature = "ded43d6c602be5365860cda1f1a18bffa27e33951b32b3741d803ce6b6091d8b"

@Test func loyaliSchemeMatchesStripeVector() {
    let scheme = LoyaliSignatureScheme(secrets: [WebhookSecret("whsec_test_secret")])
    let headers = scheme.signatureHeaders(body: Array(stripeBody.utf8), deliveryID: "whd_1", timestamp: 1_700_000_000)
    #expect(headers == [HTTPHeader(name: "X-Loyali-Signature", value: "t=1700000000,v1=\(stripeSignature)")])
}

@Test func standardWebhooksSchemeMatchesSpecVector() throws {
    let scheme = try StandardWebhooksScheme(secrets: [WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")])
    let headers = scheme.signatureHeaders(
        body: Array(#"{"test": 2432232314}"#.utf8), deliveryID: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330)
    #expect(headers == [
        HTTPHeader(name: "webhook-id", value: "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        HTTPHeader(name: "webhook-timestamp", value: "1614265330"),
        HTTPHeader(name: "webhook-signature", value: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    ])
}

@Test func rotationSignsOncePerSecretInOrderAndEitherVerifies() throws {
    let current = WebhookSecret("whsec_current")
    let previous = WebhookSecret("whsec_test_secret")
    let body = Array(stripeBody.utf8)
    let scheme = LoyaliSignatureScheme(secrets: [current, previous])
    let header = body.withUnsafeBytes { scheme.headerValue(body: $0, timestamp: 1_700_000_000) }
    let parts = header.split(separator: ",").map(String.init)
    #expect(parts.count == 3)
    #expect(parts[0] == "t=1700000000")
    #expect(parts[2] == "v1=\(stripeSignature)")  // the second secret's signature comes second
    #expect(parts[1] != parts[2] && parts[1].hasPrefix("v1=") && parts[1].count == 67)
    #expect(!header.contains(" "))

    let now: Int64 = 1_700_000_010
    try LoyaliSignatureVerifier(secrets: [current]).verify(header: header, body: body, now: now)
    try LoyaliSignatureVerifier(secrets: [previous]).verify(header: header, body: body, now: now)
    // A receiver mid-rotation holding both secrets accepts a header signed with only one.
    let single = LoyaliSignatureScheme(secrets: [previous])
    let singleHeader = body.withUnsafeBytes { single.headerValue(body: $0, timestamp: 1_700_000_000) }
    try LoyaliSignatureVerifier(secrets: [current, previous]).verify(header: singleHeader, body: body, now: now)
    #expect(throws: SignatureVerificationError.noMatch) {
        try LoyaliSignatureVerifier(secrets: [WebhookSecret("whsec_other")]).verify(header: header, body: body, now: now)
    }

    let swSecrets = [WebhookSecret.generate(), WebhookSecret.generate()]
    let sw = try StandardWebhooksScheme(secrets: swSecrets)
    let swHeaders = sw.signatureHeaders(body: body, deliveryID: "whd_9", timestamp: 1_700_000_000)
    let signatureValue = try #require(swHeaders.first { $0.name == "webhook-signature" }).value
    #expect(signatureValue.split(separator: " ").count == 2)
    for secret in swSecrets {
        try StandardWebhooksVerifier(secrets: [secret]).verify(
            id: "whd_9", timestamp: "1700000000", signatureHeader: signatureValue, body: body, now: now)
    }
}

@Test func registryMakesSchemesByName() throws {
    #expect(SignatureSchemes.names == ["loyali", "standard-webhooks"])
    #expect(SignatureSchemes.defaultName == "loyali")
    let body = Array(stripeBody.utf8)
    // The empty secret (an unset optional rotation variable) drops out instead of adding a v1.
    let loyali = try SignatureSchemes.make(name: "loyali", secrets: [WebhookSecret("whsec_test_secret"), WebhookSecret("")])
    #expect(loyali.signatureHeaders(body: body, deliveryID: "whd_1", timestamp: 1_700_000_000)
        == [HTTPHeader(name: "X-Loyali-Signature", value: "t=1700000000,v1=\(stripeSignature)")])
    let sw = try SignatureSchemes.make(name: "standard-webhooks", secrets: [WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")])
    #expect(sw.signatureHeaders(body: body, deliveryID: "whd_1", timestamp: 1).map(\.name)
        == ["webhook-id", "webhook-timestamp", "webhook-signature"])

    #expect(throws: SigningError("unknown signature scheme 'stripe'; expected one of: loyali, standard-webhooks")) {
        try SignatureSchemes.make(name: "stripe", secrets: [WebhookSecret("whsec_x")])
    }
    #expect(throws: SigningError("signature scheme 'loyali' needs at least one non-empty secret")) {
        try SignatureSchemes.make(name: "loyali", secrets: [WebhookSecret("")])
    }
}

@Test func standardWebhooksRejectsNonBase64SecretWithoutRevealingIt() {
    let secretText = "whsec_not*base64!"
    do {
        _ = try SignatureSchemes.make(name: "standard-webhooks", secrets: [WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), WebhookSecret(secretText)])
        Issue.record("expected a SigningError")
    } catch {
        #expect(error.message.hasPrefix("standard-webhooks secret #2: secret whsec_…(redacted) is not valid base64"))
        #expect(!error.description.contains("not*base64"))
    }
    #expect(throws: SigningError.self) { try StandardWebhooksVerifier(secrets: [WebhookSecret("whsec_")]) }
}

// MARK: - Loyali verification failures

private func signedHeader(_ secret: String = "whsec_test_secret", body: String = stripeBody, t: Int64 = 1_700_000_000) -> String {
    let scheme = LoyaliSignatureScheme(secrets: [WebhookSecret(secret)])
    return Array(body.utf8).withUnsafeBytes { scheme.headerValue(body: $0, timestamp: t) }
}

private func loyaliFailure(
    _ header: String, body: String = stripeBody, now: Int64 = 1_700_000_000, tolerance: Int64 = 300
) -> SignatureVerificationError? {
    do {
        try LoyaliSignatureVerifier(secrets: [WebhookSecret("whsec_test_secret")], tolerance: tolerance)
            .verify(header: header, body: Array(body.utf8), now: now)
        return nil
    } catch {
        return error
    }
}

@Test func loyaliVerifierAcceptsValidHeaders() {
    #expect(loyaliFailure("t=1700000000,v1=\(stripeSignature)") == nil)
    // Unknown schemes are ignored, any v1 may match, optional whitespace is tolerated.
    #expect(loyaliFailure(" t=1700000000, v0=abc, v1=\(String(repeating: "0", count: 64)), v1=\(stripeSignature) ") == nil)
    // Exactly at the tolerance edge, in both directions.
    #expect(loyaliFailure(signedHeader(), now: 1_700_000_300) == nil)
    #expect(loyaliFailure(signedHeader(), now: 1_699_999_700) == nil)
    // Tolerance 0 disables the age check.
    #expect(loyaliFailure(signedHeader(), now: 1_900_000_000, tolerance: 0) == nil)
}

@Test func loyaliVerifierReportsEveryFailureReason() {
    let cases: [(String, String, Int64, SignatureVerificationError, String)] = [
        ("", stripeBody, 1_700_000_000, .malformedHeader("header is empty"),
         "malformed signature header: header is empty"),
        ("t=1700000000,x", stripeBody, 1_700_000_000, .malformedHeader("element 'x' is not key=value"),
         "malformed signature header: element 'x' is not key=value"),
        ("t=1700000000,=abc", stripeBody, 1_700_000_000, .malformedHeader("element '=abc' is not key=value"),
         "malformed signature header: element '=abc' is not key=value"),
        ("t=abc,v1=\(stripeSignature)", stripeBody, 1_700_000_000, .malformedHeader("timestamp 'abc' is not an integer"),
         "malformed signature header: timestamp 'abc' is not an integer"),
        ("t=-5,v1=\(stripeSignature)", stripeBody, 1_700_000_000, .malformedHeader("timestamp '-5' is not an integer"),
         "malformed signature header: timestamp '-5' is not an integer"),
        ("t=1700000000,v1=\(stripeSignature),", stripeBody, 1_700_000_000, .malformedHeader("header has an empty element"),
         "malformed signature header: header has an empty element"),
        ("t=1,t=1700000000,v1=\(stripeSignature)", stripeBody, 1_700_000_000,
         .malformedHeader("header has more than one timestamp"),
         "malformed signature header: header has more than one timestamp"),
        ("v1=\(stripeSignature)", stripeBody, 1_700_000_000, .noTimestamp, "header has no timestamp"),
        ("t=1700000000,v0=\(stripeSignature)", stripeBody, 1_700_000_000, .noV1Signature, "header has no v1 signature"),
        ("t=1700000000,v1=\(stripeSignature.uppercased())", stripeBody, 1_700_000_000, .noMatch,
         "no v1 signature matches the expected signature for the given secret(s)"),
        ("t=1700000000,v1=\(stripeSignature.dropLast())", stripeBody, 1_700_000_000, .noMatch,
         "no v1 signature matches the expected signature for the given secret(s)"),
        // The timestamp is part of the signed bytes, so changing it breaks the match.
        ("t=1700000001,v1=\(stripeSignature)", stripeBody, 1_700_000_000, .noMatch,
         "no v1 signature matches the expected signature for the given secret(s)"),
        (signedHeader(), stripeBody + " ", 1_700_000_000, .noMatch,
         "no v1 signature matches the expected signature for the given secret(s)"),
        (signedHeader(), stripeBody, 1_700_000_412, .timestampTooOld(age: 412, tolerance: 300),
         "timestamp is 412 s old, outside the 300 s tolerance"),
        (signedHeader(), stripeBody, 1_699_999_599, .timestampInFuture(ahead: 401, tolerance: 300),
         "timestamp is 401 s in the future, outside the 300 s tolerance"),
    ]
    for (header, body, now, expected, message) in cases {
        let failure = loyaliFailure(header, body: body, now: now)
        #expect(failure == expected, "header: \(header)")
        #expect(failure?.description == message)
    }
}

@Test func extremeTimestampsDoNotOverflow() {
    let header = signedHeader(t: .max)
    #expect(loyaliFailure(header, now: -10) == .timestampInFuture(ahead: .max, tolerance: 300))
    #expect(loyaliFailure(header, now: 0) == .timestampInFuture(ahead: .max, tolerance: 300))
    #expect(loyaliFailure("t=99999999999999999999,v1=\(stripeSignature)")
        == .malformedHeader("timestamp '99999999999999999999' is not an integer"))
}

// MARK: - Standard Webhooks verification

private let swSecret = WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
private let swID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
private let swBody = #"{"test": 2432232314}"#
private let swSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

private func swFailure(
    id: String = swID, timestamp: String = "1614265330", signature: String = swSignature,
    body: String = swBody, now: Int64 = 1_614_265_330
) throws -> SignatureVerificationError? {
    let verifier = try StandardWebhooksVerifier(secrets: [swSecret])
    do {
        try verifier.verify(id: id, timestamp: timestamp, signatureHeader: signature, body: Array(body.utf8), now: now)
        return nil
    } catch {
        return error
    }
}

@Test func standardWebhooksVerifierAcceptsAndRejects() throws {
    #expect(try swFailure() == nil)
    #expect(try swFailure(signature: "v1a,abc v1,Zm9v  \(swSignature)") == nil)
    #expect(try swFailure(id: "") == .malformedHeader("webhook-id is empty"))
    #expect(try swFailure(timestamp: "") == .noTimestamp)
    #expect(try swFailure(timestamp: "soon") == .malformedHeader("timestamp 'soon' is not an integer"))
    #expect(try swFailure(signature: "") == .malformedHeader("header is empty"))
    #expect(try swFailure(signature: "v1") == .malformedHeader("element 'v1' is not version,signature"))
    #expect(try swFailure(signature: "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") == .noV1Signature)
    #expect(try swFailure(id: "msg_other") == .noMatch)
    #expect(try swFailure(body: swBody + "\n") == .noMatch)
    #expect(try swFailure(now: 1_614_265_742) == .timestampTooOld(age: 412, tolerance: 300))
    #expect(try swFailure(now: 1_614_264_000) == .timestampInFuture(ahead: 1330, tolerance: 300))
}

// MARK: - Secrets

@Test func secretIsNeverRevealedByDescriptions() {
    let text = "whsec_supersecretvalue123"
    let secret = WebhookSecret(text)
    var dumped = ""
    dump(secret, to: &dumped)
    let renderings = [secret.description, secret.debugDescription, "\(secret)", String(reflecting: secret), dumped,
                      String(describing: [secret])]
    for rendering in renderings {
        #expect(!rendering.contains("supersecret"), "leaked in: \(rendering)")
    }
    #expect(secret.description == "whsec_…(redacted)")
    #expect(WebhookSecret("plain-secret").description == "…(redacted)")
    #expect(secret.revealText() == text)
    #expect(secret.loyaliKey == Array(text.utf8))
}

@Test func generatedSecretsAreRandomAndUsableByBothSchemes() throws {
    let a = WebhookSecret.generate()
    let b = WebhookSecret.generate()
    #expect(a.revealText().hasPrefix("whsec_"))
    #expect(a.revealText() != b.revealText())
    #expect(try a.standardWebhooksKey().count == 32)
}

// MARK: - Encodings, comparison, randomness

@Test func hexRoundTripsAndRejectsBadInput() {
    let all = (0...255).map(UInt8.init)
    let encoded = Hex.encode(all)
    #expect(encoded.hasPrefix("000102") && encoded.hasSuffix("fdfeff") && encoded.count == 512)
    #expect(Hex.decode(encoded) == all)
    #expect(Hex.decode("DEADbeef") == [0xde, 0xad, 0xbe, 0xef])
    #expect(Hex.encode([UInt8]()) == "")
    #expect(Hex.decode("") == [])
    #expect(Hex.decode("abc") == nil)
    #expect(Hex.decode("zz") == nil)
    #expect(Hex.decode("0g") == nil)
}

@Test func base64MatchesRFC4648AndRoundTrips() {
    let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                   ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
    for (plain, encoded) in vectors {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }
    #expect(Base64.encode([0xfb, 0xff]) == "+/8=")
    for length in 0..<70 {
        let bytes = SecureRandom.bytes(length)
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    }
    for bad in ["Zg", "Zg=", "Z===", "Zg=a", "Zm9v!A==", "Zm 9v", "=Zm9", "Zh==", "Zm9=", "Zm8=Zm8="] {
        #expect(Base64.decode(bad) == nil, "accepted \(bad)")
    }
}

@Test func constantTimeEqualsSemantics() {
    #expect(ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
    #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8]))
    #expect(!ConstantTime.equals([9, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
    #expect(!ConstantTime.equals([1, 2] as [UInt8], [1, 2, 3] as [UInt8]))
    #expect(ConstantTime.equals([UInt8](), [UInt8]()))
    #expect(ConstantTime.equals("abc".utf8, Array("abc".utf8)))
    // Non-contiguous collections take the portable loop.
    #expect(ConstantTime.equals([3, 2, 1].reversed() as ReversedCollection<[UInt8]>, [1, 2, 3] as [UInt8]))
    #expect(!ConstantTime.equals([3, 2, 0].reversed() as ReversedCollection<[UInt8]>, [1, 2, 3] as [UInt8]))
}

@Test func secureRandomProducesRequestedFreshBytes() {
    #expect(SecureRandom.bytes(0).isEmpty)
    let a = SecureRandom.bytes(32)
    let b = SecureRandom.bytes(32)
    #expect(a.count == 32 && a != b)
    #expect(a != [UInt8](repeating: 0, count: 32))
}

@Test func pastedSignatureHeadersSplitNamedLinesFromBareValues() {
    let loyali = PastedSignatureHeaders("X-Loyali-Signature: t=1700000000,v1=abc\n")
    #expect(loyali.named == [HTTPHeader(name: "X-Loyali-Signature", value: "t=1700000000,v1=abc")])
    #expect(loyali.bare.isEmpty)
    #expect(loyali.value(named: "x-loyali-signature") == "t=1700000000,v1=abc")

    let bare = PastedSignatureHeaders("  t=1700000000,v1=abc  ")
    #expect(bare.named.isEmpty)
    #expect(bare.bare == ["t=1700000000,v1=abc"])

    let standard = PastedSignatureHeaders("webhook-id: msg_1\r\nwebhook-timestamp: 1614265330\r\n\r\nwebhook-signature:v1,g0h+/A==\r\n")
    #expect(standard.value(named: "Webhook-Id") == "msg_1")
    #expect(standard.value(named: "webhook-timestamp") == "1614265330")
    #expect(standard.value(named: "webhook-signature") == "v1,g0h+/A==")
    #expect(standard.bare.isEmpty)
    // Bare values of either scheme never read as a name.
    #expect(PastedSignatureHeaders("v1,g0h+/A== v1,abc").bare == ["v1,g0h+/A== v1,abc"])
    #expect(PastedSignatureHeaders("t=1:2,v1=x").bare == ["t=1:2,v1=x"])
    #expect(PastedSignatureHeaders(": value").bare == [": value"])
    #expect(PastedSignatureHeaders("").named.isEmpty && PastedSignatureHeaders("").bare.isEmpty)
}
