/// The browser-facing defences of the admin listener: which `Host` names it answers to, whether a
/// request comes from its own origin, cookies, and the security headers on every response.
enum AdminGuard {
    /// The session cookie's name.
    static let sessionCookie = "lh_session"
    /// The login form's CSRF cookie (double submit: the form carries the same value).
    static let loginCookie = "lh_login"

    /// Headers on every admin response: no inline or foreign script, no framing, no sniffing,
    /// no referrer to other sites (`same-origin`: with `no-referrer` a browser sends
    /// `Origin: null` on form posts, which the origin check must refuse), nothing cached.
    static let securityHeaders: [HTTPHeader] = [
        HTTPHeader(
            name: "Content-Security-Policy",
            value: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        HTTPHeader(name: "X-Frame-Options", value: "DENY"),
        HTTPHeader(name: "X-Content-Type-Options", value: "nosniff"),
        HTTPHeader(name: "Referrer-Policy", value: "same-origin"),
        HTTPHeader(name: "Cross-Origin-Opener-Policy", value: "same-origin"),
        HTTPHeader(name: "Cross-Origin-Resource-Policy", value: "same-origin"),
    ]

    /// `response` with ``securityHeaders`` (and `Cache-Control: no-store` unless it set one).
    static func harden(_ response: HTTPServerResponse) -> HTTPServerResponse {
        var hardened = response
        hardened.headers += securityHeaders
        if !response.headers.contains(where: { $0.name.caseInsensitiveEquals("Cache-Control") }) {
            hardened.headers.append(HTTPHeader(name: "Cache-Control", value: "no-store"))
        }
        return hardened
    }

    /// The host part of a `Host` header value, lowercased, without port or IPv6 brackets; `nil`
    /// when the value is malformed.
    static func hostName(_ value: String) -> String? {
        let text = value.lowercased()
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isNumber)) else { return nil }
            return String(text[text.index(after: text.startIndex)..<close])
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.first, !name.isEmpty else { return nil }
        if parts.count == 2, !parts[1].allSatisfy(\.isNumber) { return nil }
        return String(name)
    }

    /// Whether the listener may be reached under `host` (a `Host` header value): a name in
    /// `names` (its bind address, the loopback names when it binds loopback, `--admin-host`
    /// names), or any IP literal when it binds every interface. A DNS-rebinding page reaches it
    /// under the attacker's own name, which is none of those.
    static func hostAllowed(_ host: String?, names: Set<String>) -> Bool {
        guard let host, let name = hostName(host) else { return false }
        if names.contains(name) { return true }
        return (names.contains("0.0.0.0") || names.contains("::")) && isIPLiteral(name)
    }

    /// The names a listener bound to `host` answers to, besides `extra` (lowercased).
    static func hostNames(listeningOn host: String, extra: [String]) -> [String] {
        var names = extra.map { $0.lowercased() } + [host.lowercased()]
        if ListenAddress(host: host, port: 0).isLoopback || host == "0.0.0.0" || host == "::" || host.isEmpty {
            names += ["localhost", "127.0.0.1", "::1"]
        }
        if host.isEmpty { names.append("0.0.0.0") }
        return names
    }

    static func isIPLiteral(_ name: String) -> Bool {
        if name.contains(":") { return name.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) && Int($0)! <= 255 }
    }

    /// Whether a state-changing request comes from a page of this listener: `Origin`, when sent,
    /// must name the `Host` it was sent to, and `Sec-Fetch-Site` must not say cross-site.
    static func sameOrigin(_ request: HTTPServerRequest) -> Bool {
        if let site = request.header("Sec-Fetch-Site")?.lowercased(), site == "cross-site" || site == "same-site" { return false }
        guard let origin = request.header("Origin") else { return true }
        guard let host = request.header("Host") else { return false }
        let lowered = origin.lowercased()
        return lowered == "http://" + host.lowercased() || lowered == "https://" + host.lowercased()
    }

    /// The value of cookie `name`, if the request carries it.
    static func cookie(_ name: String, in request: HTTPServerRequest) -> String? {
        for header in request.headers where header.name.caseInsensitiveEquals("Cookie") {
            for pair in header.value.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals] == name { return String(trimmed[trimmed.index(after: equals)...]) }
            }
        }
        return nil
    }

    /// Whether the browser reached the listener over TLS: through a TLS-terminating proxy that
    /// says so (`X-Forwarded-Proto: https`), since the listener itself speaks plain HTTP.
    static func overTLS(_ request: HTTPServerRequest) -> Bool {
        request.header("X-Forwarded-Proto")?.lowercased() == "https"
    }

    /// A `Set-Cookie` header: `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` over TLS, ending
    /// after `maxAgeSeconds` (0 deletes it).
    static func setCookie(_ name: String, _ value: String, maxAgeSeconds: Int64, secure: Bool) -> HTTPHeader {
        var text = "\(name)=\(value); Path=/; Max-Age=\(maxAgeSeconds); HttpOnly; SameSite=Strict"
        if secure { text += "; Secure" }
        return HTTPHeader(name: "Set-Cookie", value: text)
    }
}
