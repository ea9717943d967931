/// `source: { type: http, listen: 127.0.0.1:8787, path: /events, token: "${INGEST_TOKEN}" }`:
/// events POSTed by the Loyali platform. It is received by `loyali-hooks serve`; `run` can feed
/// the same pipeline from a file with `--input`.
///
/// Ingest is authenticated unless the file says otherwise: a `token`, or `auth: none`, is
/// required, and `auth: none` only on a loopback `listen`, so no endpoint is open to other
/// machines by omission.
public struct HTTPSource: EventSource {
    public let kind = "http"
    /// `host:port` to listen on.
    public let listen: String
    /// The request path events are POSTed to.
    public let path: String
    /// The bearer token clients must present; `nil` only with `auth: none`. It prints as
    /// `<redacted>` and is compared in constant time; it is never logged.
    public let token: BearerToken?
    /// Whether a bearer token is configured.
    public var requiresToken: Bool { token != nil }
    public var identity: String { "http:\(listen)\(path)" }

    /// Makes a source from its parts.
    public init(listen: String, path: String, token: BearerToken?) {
        self.listen = listen
        self.path = path
        self.token = token
    }

    public func open() throws(SourceError) -> InputStream {
        throw SourceError(
            source: "http source \(listen)\(path)",
            reason: "HTTP ingest is received by `loyali-hooks serve`; to try this pipeline with `run`, pass --input FILE")
    }

    /// Registry entry.
    public static let factory = SourceFactory(
        kind: "http", summary: "events POSTed to an ingest endpoint",
        options: [
            ConfigKey("listen", .string, "The address serve listens on, host:port (default 127.0.0.1:8787)."),
            ConfigKey("path", .string, "The URL path events are POSTed to (default /events)."),
            ConfigKey("token", .string, "The bearer token senders must present, as \"${VAR}\"."),
            ConfigKey("auth", .oneOf(["none"]), "'none' to receive without a token (only on a loopback address)."),
        ]
    ) { mapping, reader in
        let listen = mapping["listen"].flatMap { reader.string($0, what: "source.listen") } ?? "127.0.0.1:8787"
        let path = mapping["path"].flatMap { reader.string($0, what: "source.path") } ?? "/events"
        if !path.hasPrefix("/"), let node = mapping["path"] {
            reader.error("source.path must start with '/'", at: node)
        }
        var bearer: BearerToken?
        if let node = mapping["token"], let token = reader.sensitiveExpansion(node, what: "source.token", kind: .token) {
            reader.hideValues(of: token)
            if token.hasLiteralText {
                reader.secretError(
                    "source.token is a literal secret; version-controlled config must not hold secrets, use \"${INGEST_TOKEN}\"",
                    at: node, secret: token.value)
            }
            bearer = BearerToken(token.value)
            if bearer == nil {
                reader.error("source.token is empty; set the variable, or write auth: none to receive without a token (loopback only)", at: node)
            }
        }
        let address = ListenAddress(listen)
        if let node = mapping["listen"], address == nil {
            reader.error("source.listen must be host:port with a numeric address or localhost, e.g. 127.0.0.1:8787", at: node)
        }
        if let node = mapping["auth"] {
            let auth = reader.string(node, what: "source.auth")
            if auth != nil, auth != "none" {
                reader.error("source.auth must be 'none' (to receive without a token); for bearer tokens write token: \"${INGEST_TOKEN}\"", at: node)
            } else if auth == "none", mapping["token"] != nil {
                reader.error("source.auth: none contradicts source.token; keep one of them", at: node)
            } else if auth == "none", let address, !address.isLoopback {
                reader.error(
                    "source.auth: none is refused on \(address), which other machines can reach; listen on 127.0.0.1 or set a token",
                    at: node)
            }
        } else if mapping["token"] == nil {
            reader.error(
                "an http source needs a token (token: \"${INGEST_TOKEN}\"), or auth: none to receive without one on a loopback address",
                at: mapping.nameNode ?? mapping.node)
        }
        return HTTPSource(listen: listen, path: path, token: bearer)
    }
}
