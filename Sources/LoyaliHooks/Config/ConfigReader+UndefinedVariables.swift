extension ConfigReader {
    /// What an undefined `${VAR}` without default does where it stands for a secret, a token, a
    /// header value or part of a sink URL.
    public enum UndefinedVariables: Sendable {
        /// A config error: `run`, `serve`, `test` and `validate --strict-env`, which need the value.
        case error
        /// A warning at the reference, and the value checked as if a well-formed one were set:
        /// `validate`, so that CI can lint pipelines without holding their secrets.
        case warning
    }

    /// The kind of sensitive value being read, which decides the stand-in for an undefined
    /// variable.
    public enum SensitiveValue: Sendable {
        /// A signing secret: the stand-in is a `whsec_` base64 secret, valid for every scheme.
        case signingSecret
        /// A bearer token or a header value.
        case token
        /// All or part of a sink URL.
        case url

        var noun: String {
            switch self {
            case .signingSecret: "signing secret"
            case .token: "token"
            case .url: "URL"
            }
        }
    }

    /// A well-formed signing secret for both schemes, standing in for an undefined one.
    static let placeholderSecret = WebhookSecret.prefix + Base64.encode(Array("loyali-hooks validate placeholder".utf8))

    /// Expands a sensitive value. With ``undefinedSensitiveVariables`` at `.warning`, each
    /// undefined variable without default is a warning at its `${`, and a stand-in of the right
    /// shape takes its place; the expansion's `missing` lists them, so that callers skip the
    /// checks of a value that is not there (a `whsec_` secret's base64, a URL's form).
    public func sensitiveExpansion(_ node: YAMLNode, what: String, kind: SensitiveValue) -> VariableInterpolator.Expansion? {
        guard undefinedSensitiveVariables == .warning, case .scalar(let text, let style) = node.content else {
            return expansion(node, what: what)
        }
        let result = interpolator.expand(text) { _, offset, characters in
            Self.placeholder(for: kind, at: offset, in: characters)
        }
        switch result {
        case .success(let expansion):
            for missing in expansion.missing {
                warning(
                    "undefined variable '\(missing.name)' in \(what) (a \(kind.noun)); checked as if it were set, "
                        + "but run, serve and test need it (validate --strict-env makes this an error)",
                    at: referenceLocation(in: node, text: text, style: style, offset: missing.offset))
            }
            return expansion
        case .failure:
            // Malformed references are errors in every mode; the strict path reports them.
            return expansion(node, what: what)
        }
    }

    /// The value of `node` with each undefined variable replaced by a second URL stand-in, shaped
    /// unlike the first (`localhost:8443` and `8443` for `127.0.0.1`): a URL that fails with both
    /// fails for what is written, which is then reported; one that fails with only one of them
    /// may be sound once the variables are set.
    public func alternativeURL(_ node: YAMLNode) -> String? {
        guard case .scalar(let text, _) = node.content else { return nil }
        let result = interpolator.expand(text) { _, offset, characters in
            guard offset == 0 else { return "8443" }
            let rest = characters[offset...].drop { $0 != "}" }.dropFirst()
            return rest.starts(with: "://") ? "http" : "https://localhost:8443"
        }
        return try? result.get().value
    }

    /// The stand-in for an undefined variable whose `${` is at `offset` of `characters`.
    private static func placeholder(for kind: SensitiveValue, at offset: Int, in characters: [Character]) -> String {
        switch kind {
        case .signingSecret:
            return offset == 0 ? placeholderSecret : "placeholder"
        case .token:
            return "placeholder-token"
        case .url:
            guard offset == 0 else { return "127.0.0.1" }
            // At the start, the variable holds the scheme, or the scheme and host.
            let rest = characters[offset...].drop { $0 != "}" }.dropFirst()
            return rest.starts(with: "://") ? "https" : "https://127.0.0.1"
        }
    }
}
