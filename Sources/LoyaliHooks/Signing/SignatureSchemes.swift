/// The signature schemes a pipeline can name in `sign.scheme`.
public enum SignatureSchemes {
    /// The scheme used when a pipeline names none.
    public static let defaultName = LoyaliSignatureScheme.name

    /// Every accepted scheme name, the default first.
    public static var names: [String] { [LoyaliSignatureScheme.name, StandardWebhooksScheme.name] }

    /// The scheme called `name`, signing with every non-empty secret in `secrets`, in order.
    ///
    /// Empty secrets are skipped so that an unset optional rotation variable
    /// (`"${SECRET_PREVIOUS:-}"`) simply drops out; at least one non-empty secret must remain.
    public static func make(name: String, secrets: [WebhookSecret]) throws(SigningError) -> any SignatureScheme {
        let active = secrets.filter { !$0.isEmpty }
        guard names.contains(name) else {
            throw SigningError(
                "unknown signature scheme '\(name)'; expected one of: \(names.joined(separator: ", "))")
        }
        guard !active.isEmpty else {
            throw SigningError("signature scheme '\(name)' needs at least one non-empty secret")
        }
        switch name {
        case StandardWebhooksScheme.name: return try StandardWebhooksScheme(secrets: active)
        default: return LoyaliSignatureScheme(secrets: active)
        }
    }
}
