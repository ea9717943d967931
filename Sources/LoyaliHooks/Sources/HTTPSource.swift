/// `source: { type: http, listen: 127.0.0.1:8787, path: /events, token: "${INGEST_TOKEN}" }`:
/// events POSTed by the Loyali platform. It is received by `loyali-hooks serve`; `run` can feed
/// the same pipeline from a file with `--input`.
public struct HTTPSource: EventSource {
    public let kind = "http"
    /// `host:port` to listen on.
    public let listen: String
    /// The request path events are POSTed to.
    public let path: String
    /// Whether a bearer token is configured (the token itself never leaves the config).
    public let requiresToken: Bool
    public var identity: String { "http:\(listen)\(path)" }

    public func open() throws(SourceError) -> InputStream {
        throw SourceError(
            source: "http source \(listen)\(path)",
            reason: "HTTP ingest is received by `loyali-hooks serve`; to try this pipeline with `run`, pass --input FILE")
    }

    /// Registry entry.
    public static let factory = SourceFactory(
        kind: "http", summary: "events POSTed to an ingest endpoint", keys: ["listen", "path", "token"]
    ) { mapping, reader in
        let listen = mapping["listen"].flatMap { reader.string($0, what: "source.listen") } ?? "127.0.0.1:8787"
        let path = mapping["path"].flatMap { reader.string($0, what: "source.path") } ?? "/events"
        if !path.hasPrefix("/"), let node = mapping["path"] {
            reader.error("source.path must start with '/'", at: node)
        }
        var requiresToken = false
        if let node = mapping["token"], let token = reader.expansion(node, what: "source.token") {
            if token.hasLiteralText {
                reader.secretError(
                    "source.token is a literal secret; version-controlled config must not hold secrets, use \"${INGEST_TOKEN}\"",
                    at: node, secret: token.value)
            }
            requiresToken = !token.value.isEmpty
        }
        return HTTPSource(listen: listen, path: path, requiresToken: requiresToken)
    }
}
