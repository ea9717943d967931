/// Who may use which admin route.
///
/// - Every request but the probes must name the listener in `Host` (DNS rebinding).
/// - A request with `Authorization` is an API client: its bearer token must be the login token,
///   and then nothing else is asked (a browser never attaches one on its own, so neither a
///   rebinding page nor a cross-site form can present it).
/// - Anything else is treated as a browser: a POST must come from the listener's own origin, and
///   the session cookie decides the rest; a state-changing request also needs the session's CSRF
///   token in `X-CSRF-Token`.
extension AdminEndpoint {
    func authorize(_ route: Route, _ head: HTTPServerRequest) -> HTTPServerResponse? {
        let access = route.access
        if access == .probe { return nil }
        guard AdminGuard.hostAllowed(head.header("Host"), names: context.hostNames) else {
            return .error(
                403, "host_not_allowed",
                "this listener does not answer to the host '\(head.header("Host") ?? "")'; add it with serve --admin-host")
        }
        if head.header("Authorization") != nil {
            guard context.loginToken.matches(head.bearerToken) else {
                return .error(401, "unauthorized", "invalid bearer token", headers: [HTTPHeader(name: "WWW-Authenticate", value: "Bearer")])
            }
            return nil
        }
        if head.method != "GET", head.method != "HEAD", !AdminGuard.sameOrigin(head) {
            return .error(403, "cross_origin", "a cross-site request may not change anything here")
        }
        let session = context.sessions.session(AdminGuard.cookie(AdminGuard.sessionCookie, in: head), nowMs: context.clock.nowMs())
        switch access {
        case .probe, .open:
            return nil
        case .page:
            guard session == nil else { return nil }
            return HTTPServerResponse(status: 303, headers: [HTTPHeader(name: "Location", value: "/login")])
        case .read:
            if session != nil || context.token == nil { return nil }
            return .error(401, "unauthorized", "missing bearer token", headers: [HTTPHeader(name: "WWW-Authenticate", value: "Bearer")])
        case .mutate:
            guard let session else {
                return .error(
                    401, "unauthorized", "missing bearer token or session: this endpoint changes state and always needs one",
                    headers: [HTTPHeader(name: "WWW-Authenticate", value: "Bearer")])
            }
            guard AdminSessions.csrfMatches(head.header("X-CSRF-Token"), session) else {
                return .error(403, "csrf", "missing or wrong X-CSRF-Token for this session")
            }
            return nil
        }
    }
}
