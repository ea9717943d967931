import Foundation
import Synchronization

/// `loyali-hooks listen`: a local webhook receiver for development. Every POST is verified
/// (`X-Loyali-Signature` with ``LoyaliSignatureVerifier``, and the Standard Webhooks headers
/// when present), reported through a callback, and answered as told, so a developer can rehearse
/// failures and retries.
public final class WebhookReceiver: HTTPServerHandler {
    /// How to answer.
    public struct Behavior: Sendable {
        /// The status of a normal answer.
        public var status = 200
        /// The first N attempts of each delivery (by its delivery id) get 500 instead.
        public var failFirst = 0
        /// Wait this long before answering.
        public var delay = Duration.zero
        /// Allowed signature age in seconds.
        public var tolerance: Int64 = 300

        /// 200 at once, no rehearsed failures, 300 s tolerance.
        public init() {}
    }

    /// The signature check's result.
    public struct Verdict: Sendable, Equatable {
        /// `true` when every signature present verified; `nil` when nothing could be checked
        /// (no secret given).
        public var valid: Bool?
        /// The schemes whose headers were present (`loyali`, `standard-webhooks`).
        public var schemes: [String]
        /// Why it failed (or why it was not checked); `nil` when valid.
        public var reason: String?

        /// `✅ valid (loyali)`, `❌ <reason>` or `⚠️ <reason>`.
        public var rendered: String {
            switch valid {
            case true?: "✅ signature valid (\(schemes.joined(separator: ", ")))"
            case false?: "❌ \(reason ?? "invalid signature")"
            case nil: "⚠️ \(reason ?? "not verified")"
            }
        }
    }

    /// One webhook as received.
    public struct Received: Sendable {
        /// When it arrived, ms since the Unix epoch.
        public var receivedAtMs: Int64
        /// The request method.
        public var method: String
        /// The request path.
        public var path: String
        /// `X-Loyali-Event`, else the body's `event_type`.
        public var eventType: String?
        /// `X-Loyali-Delivery`, else `webhook-id`, else the body's `id`.
        public var deliveryID: String?
        /// `X-Loyali-Attempt`.
        public var attempt: Int?
        /// The signature check.
        public var verdict: Verdict
        /// Every header as received.
        public var headers: [HTTPHeader]
        /// The exact body bytes.
        public var body: [UInt8]
        /// The status answered.
        public var status: Int

        /// One JSON line for `listen --json`.
        public var json: JSONObject {
            var object = JSONObject()
            object["time"] = .string(WebhookReceiver.timestamp(receivedAtMs))
            object["method"] = .string(method)
            object["path"] = .string(path)
            object["event_type"] = eventType.map(JSONValue.string) ?? .null
            object["delivery_id"] = deliveryID.map(JSONValue.string) ?? .null
            object["attempt"] = attempt.map { .number(JSONNumber(Int64($0))) } ?? .null
            object["signature"] = .object(JSONObject([
                "valid": verdict.valid.map(JSONValue.bool) ?? .null,
                "schemes": .array(verdict.schemes.map(JSONValue.string)),
                "reason": verdict.reason.map(JSONValue.string) ?? .null,
            ]))
            object["status"] = .number(JSONNumber(Int64(status)))
            object["body"] = (try? JSONParser.parse(body)) ?? .string(String(decoding: body, as: UTF8.self))
            return object
        }
    }

    private let secrets: [WebhookSecret]
    private let behavior: Behavior
    private let onReceive: @Sendable (Received) -> Void
    private let clock: any DeliveryClock
    /// Attempts seen per delivery id, for `failFirst`.
    private let seen = Mutex<[String: Int]>([:])

    /// A receiver checking signatures against `secrets` (none: nothing is verified).
    public init(
        secrets: [WebhookSecret], behavior: Behavior, clock: any DeliveryClock = SystemClock(),
        onReceive: @escaping @Sendable (Received) -> Void
    ) {
        self.secrets = secrets
        self.behavior = behavior
        self.clock = clock
        self.onReceive = onReceive
    }

    public func respondBeforeBody(to head: HTTPServerRequest) -> HTTPServerResponse? {
        guard head.method == "POST" else {
            return .error(405, "method_not_allowed", "this receiver accepts webhook POSTs", headers: [HTTPHeader(name: "Allow", value: "POST")])
        }
        return nil
    }

    public func handle(_ request: HTTPServerRequest, responder: HTTPResponder) {
        let nowMs = clock.nowMs()
        let verdict = verify(request, now: nowMs / 1000)
        let bodyFields = (try? JSONParser.parse(request.body))?.objectValue
        let deliveryID = request.header("X-Loyali-Delivery") ?? request.header(StandardWebhooksScheme.idHeaderName) ?? bodyFields?["id"]?.stringValue
        let count = seen.withLock { seen -> Int in
            let key = deliveryID ?? ""
            seen[key, default: 0] += 1
            return seen[key]!
        }
        let status = count <= behavior.failFirst ? 500 : behavior.status
        let received = Received(
            receivedAtMs: nowMs, method: request.method, path: request.path,
            eventType: request.header("X-Loyali-Event") ?? bodyFields?["event_type"]?.stringValue,
            deliveryID: deliveryID, attempt: request.header("X-Loyali-Attempt").flatMap { Int($0) },
            verdict: verdict, headers: request.headers, body: request.body, status: status)
        onReceive(received)
        let response: HTTPServerResponse = count <= behavior.failFirst
            ? .error(500, "rehearsed_failure", "failing attempt \(count) of \(behavior.failFirst) as told by --fail-first")
            : .json(status, JSONObject(["received": .bool(true), "signature_valid": verdict.valid.map(JSONValue.bool) ?? .null]))
        if behavior.delay > .zero {
            // Answer later without holding a listener thread.
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(min(behavior.delay, .maximumWait).totalMilliseconds))) {
                responder.respond(response)
            }
        } else {
            responder.respond(response)
        }
    }

    /// RFC 3339 UTC with milliseconds: `2024-01-20T14:30:00.123Z`.
    public static func timestamp(_ ms: Int64) -> String {
        let seconds = RFC3339.format(unixSeconds: ms / 1000)
        let millis = String(1000 + ms % 1000).dropFirst()
        return seconds.dropLast() + "." + millis + "Z"
    }

    /// Checks every signature scheme whose headers are present.
    public func verify(_ request: HTTPServerRequest, now: Int64) -> Verdict {
        let loyali = request.header(LoyaliSignatureScheme.headerName)
        let standardID = request.header(StandardWebhooksScheme.idHeaderName)
        let standardTimestamp = request.header(StandardWebhooksScheme.timestampHeaderName)
        let standardSignature = request.header(StandardWebhooksScheme.signatureHeaderName)
        var schemes: [String] = []
        if loyali != nil { schemes.append(LoyaliSignatureScheme.name) }
        if standardSignature != nil { schemes.append(StandardWebhooksScheme.name) }
        guard !schemes.isEmpty else {
            return Verdict(valid: false, schemes: [], reason: "no \(LoyaliSignatureScheme.headerName) or webhook-signature header")
        }
        guard !secrets.isEmpty else {
            return Verdict(valid: nil, schemes: schemes, reason: "not verified: start listen with --secret to check signatures")
        }
        if let loyali {
            do throws(SignatureVerificationError) {
                try LoyaliSignatureVerifier(secrets: secrets, tolerance: behavior.tolerance).verify(header: loyali, body: request.body, now: now)
            } catch {
                return Verdict(valid: false, schemes: schemes, reason: "\(LoyaliSignatureScheme.headerName): \(error)")
            }
        }
        if let standardSignature {
            guard let standardID, let standardTimestamp else {
                return Verdict(valid: false, schemes: schemes, reason: "webhook-signature without webhook-id and webhook-timestamp")
            }
            do {
                // One listen serves every local pipeline, so its secrets mix both schemes: Standard
                // Webhooks checks with those that are its kind of key (base64), when there are any.
                let standardSecrets = secrets.filter { (try? $0.standardWebhooksKey()) != nil }
                let verifier = try StandardWebhooksVerifier(
                    secrets: standardSecrets.isEmpty ? secrets : standardSecrets, tolerance: behavior.tolerance)
                do throws(SignatureVerificationError) {
                    try verifier.verify(id: standardID, timestamp: standardTimestamp, signatureHeader: standardSignature, body: request.body, now: now)
                } catch {
                    return Verdict(valid: false, schemes: schemes, reason: "webhook-signature: \(error)")
                }
            } catch {
                return Verdict(valid: false, schemes: schemes, reason: "webhook-signature: \(error)")
            }
        }
        return Verdict(valid: true, schemes: schemes, reason: nil)
    }
}
