/// Where connections go: scheme, host and port. Connection limits and connection reuse are per
/// destination, whatever the path.
public struct HTTPDestination: Hashable, Sendable, CustomStringConvertible {
    /// `http` or `https`.
    public let scheme: String
    /// Host name or IP literal, lower-cased, without brackets.
    public let host: String
    /// The port, the scheme's default filled in.
    public let port: Int

    /// The destination of `url`.
    public init(_ url: WebhookURL) {
        self.init(scheme: url.scheme, host: url.host, port: url.port ?? (url.scheme == "https" ? 443 : 80))
    }

    private init(scheme: String, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// The destination of an absolute URL; an unparsable one is its own destination, whose
    /// request libcurl refuses.
    init(urlString: String) {
        if case .success(let url) = WebhookURL.parse(urlString, allowInsecureHTTP: true) {
            self.init(url)
        } else {
            self.init(scheme: "", host: urlString, port: 0)
        }
    }

    public var description: String {
        "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }
}
