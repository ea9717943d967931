/// A parsed `http(s)://host[:port]/path` endpoint, with the checks a webhook sender needs:
/// HTTPS unless the host is loopback (or plain HTTP is explicitly allowed), and no credentials
/// embedded in the URL where they would leak into logs.
public struct WebhookURL: Sendable, Equatable, CustomStringConvertible {
    /// `http` or `https`.
    public let scheme: String
    /// Host name or IP literal, without brackets.
    public let host: String
    /// Explicit port, if any.
    public let port: Int?
    /// Path and query, at least `/`.
    public let pathAndQuery: String
    /// The URL put back together, as requests are sent to it. Built once here: an http sink sends
    /// it with every attempt.
    public let description: String

    private init(scheme: String, host: String, port: Int?, pathAndQuery: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.pathAndQuery = pathAndQuery
        let shownHost = host.contains(":") ? "[\(host)]" : host
        description = "\(scheme)://\(shownHost)\(port.map { ":\($0)" } ?? "")\(pathAndQuery)"
    }

    /// Why a URL was refused.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Parses and checks `text`.
    ///
    /// - Parameter written: the URL as written in the pipeline file, when `text` is its expansion
    ///   with `${VAR}` values. Problems then quote only `written`, since any part of the expanded
    ///   text (a token in the query, a host) may have come from a variable.
    public static func parse(_ text: String, allowInsecureHTTP: Bool, written: String? = nil) -> Result<WebhookURL, Problem> {
        // The whole URL, quoted as written.
        func quoted(_ text: String) -> String { "'\(written ?? text)'" }
        // "port '99999'", or "port in '<URL as written>'" when the part may hold a variable's value.
        func named(_ what: String, _ part: some StringProtocol) -> String {
            written.map { "\(what) in '\($0)'" } ?? "\(what) '\(part)'"
        }
        guard let schemeEnd = text.range(of: "://") else {
            return .failure(Problem(description: "\(quoted(text)) is not an absolute URL; expected https://host/path"))
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else {
            return .failure(Problem(description: "unsupported \(named("URL scheme", scheme)); use https"))
        }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        guard !authority.contains("@") else {
            return .failure(Problem(description: "credentials in the URL would be logged; send them with headers: and ${VAR} instead"))
        }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                return .failure(Problem(description: "unterminated IPv6 address in \(quoted(text))"))
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                return .failure(Problem(description: "unexpected \(named("text", after)) after the IPv6 address"))
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { return .failure(Problem(description: "URL \(quoted(text)) has no host")) }
        var port: Int?
        if let portText {
            guard let value = Int(portText), (1...65_535).contains(value) else {
                return .failure(Problem(description: "invalid \(named("port", portText))"))
            }
            port = value
        }
        let url = WebhookURL(scheme: scheme, host: host.lowercased(), port: port, pathAndQuery: path)
        if scheme == "http", !url.isLoopback, !allowInsecureHTTP {
            return .failure(Problem(description:
                "plain http:// to non-loopback \(named("host", url.host)) would expose payloads and signatures; use https, or set allow_insecure_http: true"))
        }
        return .success(url)
    }

    /// What a sink URL with an undefined variable stands as in `validate`, where nothing is sent.
    static let placeholder = WebhookURL(scheme: "https", host: "127.0.0.1", port: nil, pathAndQuery: "/")

    /// `localhost`, `127.0.0.0/8` or `::1`.
    public var isLoopback: Bool {
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" { return true }
        let octets = host.split(separator: ".")
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}
