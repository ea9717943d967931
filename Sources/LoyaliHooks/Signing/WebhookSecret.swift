/// A webhook signing secret. Printing, interpolating or dumping it never shows the secret itself,
/// so it can be logged alongside the configuration that holds it.
public struct WebhookSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The prefix Stripe and Standard Webhooks use for signing secrets.
    public static let prefix = "whsec_"

    private let text: String

    /// Wraps the secret text exactly as configured.
    public init(_ text: String) { self.text = text }

    /// Whether the secret is the empty string (e.g. an unset optional `${PREVIOUS:-}` variable).
    public var isEmpty: Bool { text.isEmpty }

    /// The secret text itself. Named so that every place that reveals a secret stands out in review;
    /// meant for showing a freshly generated secret to its owner, never for logs.
    public func revealText() -> String { text }

    /// `whsec_…(redacted)` (or `…(redacted)` without the prefix): enough to tell which kind of secret
    /// is configured, nothing of its value.
    public var description: String {
        if text.isEmpty { return "(empty secret)" }
        return text.hasPrefix(Self.prefix) ? "\(Self.prefix)…(redacted)" : "…(redacted)"
    }

    /// Same as `description`.
    public var debugDescription: String { description }

    /// Hides the stored text from `dump` and debugger reflection.
    public var customMirror: Mirror { Mirror(self, children: ["text": description]) }

    /// The HMAC key for the `loyali` scheme: the UTF-8 bytes of the whole secret, `whsec_` included,
    /// exactly as Stripe keys its `v1` signatures.
    var loyaliKey: [UInt8] { Array(text.utf8) }

    /// The HMAC key for the `standard-webhooks` scheme: the base64-decoded text after `whsec_`
    /// (the prefix is optional, as in the reference libraries).
    func standardWebhooksKey() throws(SigningError) -> [UInt8] {
        let encoded = text.hasPrefix(Self.prefix) ? text.dropFirst(Self.prefix.count) : Substring(text)
        guard let key = Base64.decode(encoded) else {
            throw SigningError(
                "secret \(description) is not valid base64 after the '\(Self.prefix)' prefix "
                    + "(standard-webhooks secrets look like whsec_<base64>)")
        }
        guard !key.isEmpty else {
            throw SigningError("secret \(description) has no key bytes after the '\(Self.prefix)' prefix")
        }
        return key
    }

    /// A new random secret, `whsec_` + base64 of `byteCount` random bytes, usable by both schemes.
    public static func generate(byteCount: Int = 32) -> WebhookSecret {
        precondition(byteCount > 0, "a secret needs at least one random byte")
        return WebhookSecret(prefix + Base64.encode(SecureRandom.bytes(byteCount)))
    }
}
