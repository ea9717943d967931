/// The Standard Webhooks scheme (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
/// `webhook-signature: v1,<base64>[ v1,<base64>...]`, each signature an HMAC-SHA256 over
/// `"<id>.<t>.<body>"` keyed with the base64-decoded part of a `whsec_` secret.
public struct StandardWebhooksScheme: SignatureScheme {
    /// The name pipelines use for this scheme.
    public static let name = "standard-webhooks"
    /// Header carrying the message id (the delivery's `whd_` id).
    public static let idHeaderName = "webhook-id"
    /// Header carrying the unix-seconds timestamp.
    public static let timestampHeaderName = "webhook-timestamp"
    /// Header carrying the space-separated signatures.
    public static let signatureHeaderName = "webhook-signature"

    private let keys: [HMACSHA256Key]

    /// Signs with each of `secrets`, in order; throws if one is not `whsec_` + base64.
    public init(secrets: [WebhookSecret]) throws(SigningError) {
        var keys: [HMACSHA256Key] = []
        for (index, secret) in secrets.enumerated() {
            do {
                keys.append(HMACSHA256Key(try secret.standardWebhooksKey()))
            } catch {
                throw SigningError("standard-webhooks secret #\(index + 1): \(error.message)")
            }
        }
        self.keys = keys
    }

    public func signatureHeaders(
        body: UnsafeRawBufferPointer, deliveryID: String, timestamp: Int64
    ) -> [HTTPHeader] {
        [
            HTTPHeader(name: Self.idHeaderName, value: deliveryID),
            HTTPHeader(name: Self.timestampHeaderName, value: String(timestamp)),
            HTTPHeader(
                name: Self.signatureHeaderName,
                value: signatures(body: body, id: deliveryID, timestamp: timestamp)
                    .map { "v1," + $0 }.joined(separator: " ")),
        ]
    }

    /// The base64 signature each secret gives `body` with message `id` at `timestamp`, in order.
    func signatures(body: UnsafeRawBufferPointer, id: String, timestamp: Int64) -> [String] {
        var prefix = id + "." + String(timestamp)
        return prefix.withUTF8 { prefixBytes in
            var mac: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            return withUnsafeMutableBytes(of: &mac) { macBuffer in
                keys.map { key in
                    key.authenticate(
                        prefix: UnsafeRawBufferPointer(prefixBytes), separator: UInt8(ascii: "."), body: body,
                        into: macBuffer)
                    return Base64.encode(UnsafeRawBufferPointer(macBuffer))
                }
            }
        }
    }
}
