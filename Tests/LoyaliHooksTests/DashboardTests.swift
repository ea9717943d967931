import Foundation
import Testing

@testable import LoyaliHooks

// The dashboard served by serve's admin listener, at the HTTP level: login and session cookie,
// CSRF, Host checks (DNS rebinding), security headers, assets, secrets kept from the browser, and
// the API it reads (keyset log, time series, validate, preview). The browser journey itself is
// Tests/Browser/dashboard_test.py, run by `make test`.

/// A logged-in browser: its session cookie and CSRF token.
struct BrowserSession {
    var cookie: String
    var csrf: String
}

extension ServeFixture {
    /// Logs in through the form as a browser would: GET /login, then POST the token with the
    /// form's CSRF token and cookie.
    func logIn(token: String, forwardedProto: String? = nil) throws -> (TestResponse, BrowserSession?) {
        let form = try admin("GET", "/login")
        let loginCookie = try #require(form.cookies.first { $0.hasPrefix("lh_login=") })
        let csrf = String(loginCookie.dropFirst("lh_login=".count).prefix { $0 != ";" })
        #expect(form.text.contains("value=\"\(csrf)\""))
        var headers = [("Cookie", "lh_login=\(csrf)"), ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "http://127.0.0.1")]
        if let forwardedProto { headers.append(("X-Forwarded-Proto", forwardedProto)) }
        let body = "token=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&csrf=\(csrf)"
        let answer = try TestConnection(port: adminPort).request("POST", "/login", headers: headers, body: Array(body.utf8))
        guard let session = answer.cookies.first(where: { $0.hasPrefix("lh_session=") && !$0.hasPrefix("lh_session=;") }) else { return (answer, nil) }
        let cookie = String(session.prefix { $0 != ";" })
        let page = try TestConnection(port: adminPort).request("GET", "/", headers: [("Cookie", cookie)])
        let meta = try #require(page.text.range(of: #"<meta name="csrf-token" content=""#))
        let token = String(page.text[meta.upperBound...].prefix { $0 != "\"" })
        return (answer, BrowserSession(cookie: cookie, csrf: token))
    }

    /// A request as a browser with `session` sends it.
    func browser(
        _ method: String, _ path: String, session: BrowserSession?, csrf: String? = nil, host: String? = nil, origin: String? = nil,
        body: String = ""
    ) throws -> TestResponse {
        var headers: [(String, String)] = []
        if let session { headers.append(("Cookie", session.cookie)) }
        if let csrf { headers.append(("X-CSRF-Token", csrf)) }
        if let host { headers.append(("Host", host)) }
        if let origin { headers.append(("Origin", origin)) }
        if !body.isEmpty { headers.append(("Content-Type", "application/json")) }
        return try TestConnection(port: adminPort).request(method, path, headers: headers, body: Array(body.utf8))
    }
}

@Suite("serve: dashboard security", .serialized)
struct DashboardSecurityTests {
    static let adminToken = "dashboard-admin-token"

    @Test("login trades the admin token for an HttpOnly, SameSite=Strict, expiring session cookie; Secure behind TLS")
    func login() throws {
        let fixture = try ServeFixture(adminToken: Self.adminToken)
        let anonymous = try fixture.browser("GET", "/", session: nil)
        #expect(anonymous.status == 303)
        #expect(anonymous.headers["location"] == "/login")

        let (wrong, none) = try fixture.logIn(token: "not-it")
        #expect(wrong.status == 401)
        #expect(none == nil)
        #expect(wrong.text.contains("not the admin token"))

        let (answer, session) = try fixture.logIn(token: Self.adminToken)
        #expect(answer.status == 303)
        #expect(answer.headers["location"] == "/")
        let cookie = try #require(answer.cookies.first { $0.hasPrefix("lh_session=") })
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] { #expect(cookie.contains(attribute), "\(attribute)") }
        #expect(!cookie.contains("Secure"))
        #expect(session != nil)
        let page = try fixture.browser("GET", "/", session: session)
        #expect(page.status == 200)
        #expect(page.headers["content-type"] == "text/html; charset=utf-8")

        let (secured, _) = try fixture.logIn(token: Self.adminToken, forwardedProto: "https")
        #expect(secured.cookies.first { $0.hasPrefix("lh_session=") }?.contains("; Secure") == true)

        // The login form's own CSRF check: a post without its cookie is refused.
        let forged = try TestConnection(port: fixture.adminPort).request(
            "POST", "/login", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array("token=\(Self.adminToken)&csrf=abc".utf8))
        #expect(forged.status == 403)
        #expect(forged.cookies.allSatisfy { !$0.hasPrefix("lh_session=") })

        // Logging out ends the session on the server, not only in the browser.
        let out = try fixture.browser("POST", "/logout", session: session, csrf: session?.csrf, origin: "http://127.0.0.1")
        #expect(out.status == 200)
        #expect(try fixture.browser("GET", "/", session: session).status == 303)
        #expect(try fixture.browser("GET", "/api/stats", session: session).status == 401)
    }

    @Test("a session reads the API; every state-changing request also needs the session's CSRF token and the same origin")
    func csrf() throws {
        let fixture = try ServeFixture(adminToken: Self.adminToken)
        let (_, found) = try fixture.logIn(token: Self.adminToken)
        let session = try #require(found)
        #expect(try fixture.browser("GET", "/api/stats", session: session).status == 200)
        for path in ["/api/reload", "/api/resend", "/api/validate", "/api/pipelines/ingest/test"] {
            let bare = try fixture.browser("POST", path, session: session)
            #expect(bare.status == 403, "\(path)")
            #expect(bare.json?.string("error") == "csrf", "\(path)")
            // One character changed, never the same one: a token that happens to start with the replacement must still differ.
            let forged = (session.csrf.first == "0" ? "1" : "0") + session.csrf.dropFirst()
            #expect(try fixture.browser("POST", path, session: session, csrf: forged).status == 403, "\(path)")
            let crossSite = try fixture.browser("POST", path, session: session, csrf: session.csrf, origin: "https://evil.example")
            #expect(crossSite.status == 403, "\(path)")
            #expect(crossSite.json?.string("error") == "cross_origin", "\(path)")
        }
        let reloaded = try fixture.browser("POST", "/api/reload", session: session, csrf: session.csrf, origin: "http://127.0.0.1")
        #expect(reloaded.status == 200, "\(reloaded.text)")
        // Another session's token is not this one's.
        let (_, other) = try fixture.logIn(token: Self.adminToken)
        #expect(try fixture.browser("POST", "/api/reload", session: session, csrf: try #require(other).csrf).status == 403)
    }

    @Test("a Host that names no name of the listener is refused (DNS rebinding), bearer token or not")
    func host() throws {
        let fixture = try ServeFixture(configure: { $0.adminHosts = ["hooks.internal"] })
        for host in ["evil.example", "evil.example:8788", "127.0.0.1.evil.example", "localhost.evil.example", "[::1", ""] {
            let refused = try fixture.browser("GET", "/api/stats", session: nil, host: host)
            #expect(refused.status == 403, "Host: \(host)")
            #expect(refused.json?.string("error") == "host_not_allowed", "Host: \(host)")
            #expect(try fixture.browser("GET", "/login", session: nil, host: host).status == 403, "Host: \(host)")
        }
        for host in ["127.0.0.1:\(fixture.adminPort)", "localhost:\(fixture.adminPort)", "LOCALHOST", "hooks.internal:443", "[::1]:8788"] {
            #expect(try fixture.browser("GET", "/api/stats", session: nil, host: host).status == 200, "Host: \(host)")
        }
        // Another address is not this listener's (it binds 127.0.0.1 only).
        #expect(try fixture.browser("GET", "/api/stats", session: nil, host: "10.0.0.7").status == 403)
        // A bearer token does not make a forged Host acceptable.
        let token = try #require(fixture.loginToken)
        let api = try TestConnection(port: fixture.adminPort).request(
            "GET", "/api/stats", headers: [("Host", "evil.example"), ("Authorization", "Bearer \(token)")])
        #expect(api.status == 403)
        #expect(try TestConnection(port: fixture.adminPort).request(
            "GET", "/api/stats", headers: [("Host", "hooks.internal"), ("Authorization", "Bearer \(token)")]).status == 200)
        // A listener on every interface answers to any address, and still to no other name.
        let names = Set(AdminGuard.hostNames(listeningOn: "0.0.0.0", extra: []))
        #expect(AdminGuard.hostAllowed("10.0.0.7:8788", names: names) && AdminGuard.hostAllowed("[fe80::1]:8788", names: names))
        #expect(!AdminGuard.hostAllowed("evil.example", names: names) && !AdminGuard.hostAllowed("10.0.0.7.evil.example", names: names))
        #expect(AdminGuard.hostAllowed("localhost", names: Set(AdminGuard.hostNames(listeningOn: "::1", extra: []))))
        #expect(!AdminGuard.hostAllowed("localhost", names: Set(AdminGuard.hostNames(listeningOn: "192.168.1.5", extra: []))))
        // Probes answer whatever the Host (load balancers use their own names).
        #expect(try fixture.browser("GET", "/healthz", session: nil, host: "lb.example").status == 200)
    }

    @Test("without a configured token, resend, reload and test need the login token serve wrote (0600), even on loopback")
    func mutatingNeedsToken() throws {
        let fixture = try ServeFixture()
        let path = fixture.directory + "/state/admin-token"
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode & 0o077 == 0)
        let token = try #require(fixture.loginToken)
        #expect(token.count == 64)
        #expect(!fixture.logs.all.joined().contains(token))
        for (path, body) in [("/api/reload", ""), ("/api/resend", #"{"ids":["whd_x"]}"#), ("/api/deliveries/whd_x/resend", ""),
                             ("/api/pipelines/ingest/test", #"{"event":"points.earned","sinks":["audit"]}"#)] {
            let anonymous = try fixture.admin("POST", path, body: body, anonymous: true)
            #expect(anonymous.status == 401, "\(path)")
            #expect(try fixture.admin("POST", path, body: body, token: "wrong").status == 401, "\(path)")
            #expect(try fixture.admin("POST", path, body: body, token: token).status < 500, "\(path)")
        }
        // Reads stay open on loopback, as before.
        #expect(try fixture.admin("GET", "/api/stats").status == 200)
        let (answer, session) = try fixture.logIn(token: token)
        #expect(answer.status == 303)
        #expect(session != nil)
    }

    @Test("every response carries a strict CSP and refuses framing; pages hold no inline script and stay small")
    func headersAndAssets() throws {
        let fixture = try ServeFixture(adminToken: Self.adminToken)
        let (_, found) = try fixture.logIn(token: Self.adminToken)
        let session = try #require(found)
        var pageBytes = 0
        for path in ["/", "/login", "/api/stats", "/nothing"] + DashboardAssets.files.keys.map({ "/assets/\($0)" }) {
            let response = try fixture.browser("GET", path, session: session)
            let csp = try #require(response.headers["content-security-policy"], "\(path)")
            #expect(csp.contains("default-src 'none'") && csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"), "\(path)")
            #expect(!csp.contains("unsafe"), "\(path)")
            #expect(response.headers["x-frame-options"] == "DENY", "\(path)")
            #expect(response.headers["x-content-type-options"] == "nosniff", "\(path)")
            if path.hasPrefix("/assets/") || path == "/" { pageBytes += response.body.count }
            if response.headers["content-type"]?.hasPrefix("text/html") == true {
                // Every <script> has a src, and no element has an on… handler attribute.
                let html = response.text
                #expect(html.components(separatedBy: "<script").dropFirst().allSatisfy { $0.hasPrefix(" src=") }, "\(path)")
                #expect(html.range(of: #"\son[a-z]+="#, options: .regularExpression) == nil, "\(path)")
            }
        }
        #expect(pageBytes > 10_000)
        #expect(pageBytes < 150_000, "the dashboard page with every asset is \(pageBytes) bytes")
        // Scripts never parse data as HTML.
        for (name, file) in DashboardAssets.files where name.hasSuffix(".js") {
            for banned in ["innerHTML", "outerHTML =", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
                #expect(!file.text.contains(banned), "\(name) uses \(banned)")
            }
        }
        #expect(try fixture.browser("GET", "/assets/nothing.js", session: nil).status == 404)
        // A session's CSRF token is escaped into the page; the login message too.
        #expect(DashboardAssets.login(csrf: "x", message: "<img src=x onerror=alert(1)>").contains("&lt;img src=x onerror=alert(1)&gt;"))
    }

    @Test("sessions expire and are found only by their own id")
    func sessions() {
        let sessions = AdminSessions(lifetimeMs: 1_000, capacity: 2)
        let (id, session) = sessions.create(nowMs: 10_000)
        #expect(sessions.session(id, nowMs: 10_999) == session)
        #expect(sessions.session(id, nowMs: 11_000) == nil)
        #expect(sessions.session(id, nowMs: 10_500) == nil)  // an expired session is gone for good
        #expect(sessions.session(nil, nowMs: 0) == nil)
        #expect(sessions.session("", nowMs: 0) == nil)
        let first = sessions.create(nowMs: 20_000).id
        let second = sessions.create(nowMs: 20_001).id
        let third = sessions.create(nowMs: 20_002).id
        #expect(sessions.session(first, nowMs: 20_003) == nil)  // over capacity: the oldest goes
        #expect(sessions.session(second, nowMs: 20_003) != nil && sessions.session(third, nowMs: 20_003) != nil)
        #expect(AdminSessions.csrfMatches(session.csrf, session))
        #expect(!AdminSessions.csrfMatches(nil, session))
        #expect(!AdminSessions.csrfMatches(String(session.csrf.dropLast()), session))
    }
}

@Suite("serve: dashboard data", .serialized)
struct DashboardDataTests {
    static let pipeline = """
        pipeline: shop
        source: { type: http, listen: "127.0.0.1:0", path: /events, token: "${INGEST_TOKEN}" }
        sign:
          secrets: ["${SECRET}"]
        sinks:
          audit: { type: file, path: "${OUT}" }
          crm:
            type: http
            url: "http://127.0.0.1:9/crm"
            headers: { Authorization: "Bearer ${CRM_TOKEN}" }
            retry: { schedule: [0s, 1h] }
        """

    @Test("secrets and ${VAR} values never reach the browser: the request view, pipelines and preview")
    func secretsStayHome() throws {
        let crmToken = "crm-token-value-never-shown"
        let fixture = try ServeFixture(files: ["shop.yaml": Self.pipeline], extraEnvironment: ["CRM_TOKEN": crmToken])
        #expect(try fixture.post(eventLine("evt_secret_1", type: "points.earned")).status == 202)
        let id = DeliveryID.make(eventID: "evt_secret_1", pipeline: "shop", sink: "crm")
        #expect(ServeFixture.eventually { ((try? fixture.store().detail(id: id))??.0.attempts ?? 0) >= 1 })
        let sent = try fixture.admin("GET", "/api/deliveries/\(id)/request")
        #expect(sent.status == 200)
        let headers = sent.json?.objects("headers") ?? []
        #expect(headers.first { $0.string("name") == "Authorization" }?.string("value") == "Bearer ${CRM_TOKEN}")
        #expect(headers.first { $0.string("name") == "X-Loyali-Signature" }?["masked"] == .bool(true))
        let stored = try #require(try fixture.store().body(id: id))
        #expect(sent.json?.string("body") == String(decoding: stored, as: UTF8.self))
        let preview = try fixture.admin("POST", "/api/preview", body: JSONValue.object(JSONObject([
            "yaml": .string(Self.pipeline), "event": .string("tier.upgraded"),
        ])).serializedString)
        #expect(preview.status == 200, "\(preview.text)")
        #expect(preview.text.contains("Bearer ${CRM_TOKEN}"))
        for response in [sent, preview, try fixture.admin("GET", "/api/pipelines"), try fixture.admin("GET", "/api/routes")] {
            #expect(!response.text.contains(crmToken))
            #expect(!response.text.contains(ServeFixture.secret))
            #expect(!response.text.contains(ServeFixture.token))
        }
        // The routes page's extras: the line of `pipeline:` and each sink's retry schedule.
        let shop = try #require(try fixture.admin("GET", "/api/pipelines").json?.objects("pipelines").first)
        #expect(shop.int("line") == 1)
        #expect(shop.objects("sinks").last?["retry"] == .array([.string("0s"), .string("1h")]))
    }

    @Test("validate reports path:line:col, names variables serve lacks, and writes nothing")
    func validate() throws {
        let fixture = try ServeFixture()
        let broken = "pipeline: crm\nsource: { type: http, listen: \"127.0.0.1:0\", path: /x, token: \"${INGEST_TOKEN}\" }\nsign:\n  secrets: [\"${CRM_SECRET}\"]\nsinks:\n  crm: { type: http, url: \"ftp://x\" }\n"
        let answer = try fixture.admin("POST", "/api/validate", body: JSONValue.object(JSONObject([
            "yaml": .string(broken), "file": .string("pipelines/crm.yaml"),
        ])).serializedString)
        #expect(answer.status == 200)
        #expect(answer.json?["ok"] == .bool(false))
        let first = try #require(answer.json?.objects("diagnostics").first)
        #expect(first.string("text")?.hasPrefix("pipelines/crm.yaml:6:") == true, "\(first)")
        #expect(first.int("line") == 6)
        #expect(answer.json?["warnings"]?.arrayValue?.first?.stringValue?.contains("${CRM_SECRET} is not set") == true)
        let fixed = broken.replacingOccurrences(of: "ftp://x", with: "https://crm.example.com/in")
        let good = try fixture.admin("POST", "/api/validate", body: JSONValue.object(JSONObject(["yaml": .string(fixed)])).serializedString)
        #expect(good.json?["ok"] == .bool(true), "\(good.text)")
        #expect(!FileManager.default.fileExists(atPath: fixture.directory + "/pipelines/crm.yaml"))
        #expect(try fixture.admin("POST", "/api/validate", body: #"{"yml":"x"}"#).json?.string("message")?.contains("did you mean 'yaml'") == true)
        #expect(try fixture.admin("POST", "/api/preview", body: JSONValue.object(JSONObject(["yaml": .string(broken)])).serializedString).status == 422)
    }

    @Test("the log's status filter finds each status through its own index, newest first, paged by keyset")
    func logByStatus() throws {
        let directory = NSTemporaryDirectory() + "loyali-dash-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteDeliveryStore(directory: directory)
        let batch = (0..<12).map { n in
            NewDelivery(
                id: DeliveryID.make(eventID: "evt_\(n)", pipeline: "p", sink: "a"), pipeline: "p", sink: "a", eventID: "evt_\(n)",
                eventType: "points.earned", body: Array("{}".utf8), schedule: [0, 60_000], createdAtMs: 1_000)
        }
        _ = try store.enqueue(batch, checkpoint: nil, nowMs: 1_000)
        // Oldest due first: evt_0…3 fail once (retrying), 4…5 succeed, 6…8 stay in flight, 9…11 pending.
        let claimed = try store.claimDue(sinkKey: ("p", "a"), nowMs: 2_000, limit: 9)
        try store.record(claimed.prefix(6).enumerated().map { index, delivery in
            AttemptRecord(
                deliveryID: delivery.id, attempt: 1, startedAtMs: 2_000, durationMs: 5, httpStatus: index < 4 ? 503 : 200,
                errorMessage: "x", outcome: index < 4 ? .retry(atMs: 70_000) : .succeeded)
        })
        func events(_ status: DeliveryStatus, limit: Int = 50, before: DeliveryLogCursor? = nil) throws -> DeliveryLogPage {
            try store.page(DeliveryQuery(status: status, limit: limit), search: nil, untilMs: nil, before: before)
        }
        #expect(try events(.inFlight).rows.map(\.eventID) == ["evt_8", "evt_7", "evt_6"])
        #expect(try events(.pending).rows.map(\.eventID) == ["evt_11", "evt_10", "evt_9"])
        #expect(try events(.retrying).rows.map(\.eventID) == ["evt_3", "evt_2", "evt_1", "evt_0"])
        #expect(try events(.succeeded).rows.map(\.eventID) == ["evt_5", "evt_4"])
        let first = try events(.retrying, limit: 3)
        #expect(first.rows.count == 3)
        #expect(try events(.retrying, before: first.next).rows.map(\.eventID) == ["evt_0"])
        #expect(try store.page(DeliveryQuery(status: .pending, eventType: "tier.upgraded"), search: nil, untilMs: nil, before: nil).rows.isEmpty)
    }

    @Test("the log pages by keyset, filters and searches by id; the series counts attempts per bucket")
    func logAndSeries() throws {
        let directory = NSTemporaryDirectory() + "loyali-dash-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteDeliveryStore(directory: directory)
        var batch: [NewDelivery] = []
        for n in 0..<25 {
            batch.append(NewDelivery(
                id: DeliveryID.make(eventID: "evt_\(n)", pipeline: "p", sink: n % 2 == 0 ? "a" : "b"), pipeline: "p",
                sink: n % 2 == 0 ? "a" : "b", eventID: "evt_\(n)", eventType: n % 3 == 0 ? "tier.upgraded" : "points.earned",
                body: Array("{}".utf8), schedule: [0, 3_600_000], createdAtMs: 60_000))
        }
        _ = try store.enqueue(batch, checkpoint: nil, nowMs: 60_000)
        var seen: [String] = []
        var cursor: DeliveryLogCursor?
        repeat {
            let page = try store.page(DeliveryQuery(sink: "a", limit: 5), search: nil, untilMs: nil, before: cursor)
            #expect(page.rows.allSatisfy { $0.sink == "a" })
            seen += page.rows.map(\.eventID)
            cursor = page.next
        } while cursor != nil
        #expect(seen == stride(from: 24, through: 0, by: -2).map { "evt_\($0)" })
        let id = batch[7].id
        #expect(try store.page(DeliveryQuery(), search: id, untilMs: nil, before: nil).rows.map(\.id) == [id])
        #expect(try store.page(DeliveryQuery(), search: String(id.prefix(9)), untilMs: nil, before: nil).rows.contains { $0.id == id })
        #expect(try store.page(DeliveryQuery(), search: String(id.prefix(10)), untilMs: nil, before: nil).rows.allSatisfy { $0.id.hasPrefix(String(id.prefix(10))) })
        #expect(try store.page(DeliveryQuery(), search: "evt_7", untilMs: nil, before: nil).rows.map(\.id) == [id])
        #expect(try store.page(DeliveryQuery(eventType: "tier.upgraded", limit: 100), search: "whd_", untilMs: nil, before: nil).rows.count == 9)
        #expect(try store.page(DeliveryQuery(), search: "nothing", untilMs: nil, before: nil).rows.isEmpty)
        // Short id prefixes (read through the id index) give exactly the rows a scan would, in
        // the log's order, with and without a status.
        let everyRow = try store.page(DeliveryQuery(limit: 100), search: nil, untilMs: nil, before: nil).rows
        for prefix in ["whd_", "whd_" + String(id.dropFirst(4).prefix(1)), String(id.prefix(6))] {
            for status in [nil, DeliveryStatus.pending] as [DeliveryStatus?] {
                let found = try store.page(DeliveryQuery(status: status, limit: 100), search: prefix, untilMs: nil, before: nil).rows
                #expect(found.map(\.id) == everyRow.filter { $0.id.hasPrefix(prefix) && (status == nil || $0.status == status) }.map(\.id), "\(prefix) \(status?.rawValue ?? "any")")
            }
        }
        #expect(SQLiteDeliveryStore.idRange(prefix: "whd_ff")! == ([0xFF], nil))
        #expect(SQLiteDeliveryStore.idRange(prefix: "whd_a")! == ([0xA0], [0xB0]))
        #expect(SQLiteDeliveryStore.idRange(prefix: "whd_0f")! == ([0x0F], [0x10]))
        #expect(SQLiteDeliveryStore.idRange(prefix: "whd_AB") == nil)

        // Attempts at 60.5 s (ok, 10 ms), 61 s (retry, 30 ms) and 125 s (failed, 50 ms).
        let claimed = try store.claimDue(sinkKey: ("p", "a"), nowMs: 60_500, limit: 3)
        #expect(claimed.count == 3)
        try store.record([
            AttemptRecord(deliveryID: claimed[0].id, attempt: 1, startedAtMs: 60_500, durationMs: 10, httpStatus: 200, errorClass: nil, errorMessage: nil, responseSnippet: nil, outcome: .succeeded),
            AttemptRecord(deliveryID: claimed[1].id, attempt: 1, startedAtMs: 61_000, durationMs: 30, httpStatus: 503, errorClass: "http_5xx", errorMessage: "x", responseSnippet: nil, outcome: .retry(atMs: 90_000)),
            AttemptRecord(deliveryID: claimed[2].id, attempt: 1, startedAtMs: 125_000, durationMs: 50, httpStatus: 400, errorClass: "http_4xx", errorMessage: "x", responseSnippet: nil, outcome: .failed),
        ])
        let series = try store.series(sinceMs: 0, untilMs: 180_000, bucketMs: 60_000)
        #expect(series.map(\.startMs) == [0, 60_000, 120_000])
        #expect(series[0].succeeded + series[0].retried + series[0].failed == 0)
        #expect(series[1].succeeded == 1 && series[1].retried == 1 && series[1].failed == 0)
        #expect(series[1].latencyP50Ms == 10 && series[1].latencyP95Ms == 30)
        #expect(series[2].failed == 1 && series[2].latencyP95Ms == 50)
        let page = try store.page(DeliveryQuery(status: .failed), search: nil, untilMs: nil, before: nil)
        #expect(page.rows.count == 1 && page.lastDurationsMs == [50])
    }

    @Test("health windows start on a minute, so stats and the overview read only the maintained aggregates")
    func healthWindowsReadOnlyAggregates() throws {
        for since: Int64 in [0, 1, 59_999, 60_000, 3_600_000 + 17_345, -1] {
            let start = SinkStats.windowStart(sinceMs: since)
            #expect(start <= since && since - start < 60_000 && start % 60_000 == 0, "\(since)")
            let pieces = RollupReader.cover(fromMs: start, toMs: nil)
            #expect(pieces.allSatisfy { if case .rollup = $0 { true } else { false } }, "\(since): \(pieces)")
        }
    }

    @Test("the time series endpoint answers every window with aligned buckets and refuses others")
    func timeseries() throws {
        let fixture = try ServeFixture()
        #expect(try fixture.post(eventLine("evt_series_1")).status == 202)
        let id = DeliveryID.make(eventID: "evt_series_1", pipeline: "ingest", sink: "audit")
        #expect(ServeFixture.eventually { (try? fixture.store().detail(id: id))??.0.status == .succeeded })
        for (window, count, width) in [("1h", 60, 60), ("24h", 144, 600), ("7d", 168, 3600)] {
            let answer = try #require(try fixture.admin("GET", "/api/timeseries?window=\(window)").json)
            #expect(answer.int("bucket_seconds") == width)
            let buckets = answer.objects("buckets")
            #expect(buckets.count == count)
            #expect(buckets.reduce(0) { $0 + ($1.int("succeeded") ?? 0) } == 1, "\(window)")
            #expect(buckets.last?.int("succeeded") == 1, "\(window)")
        }
        #expect(try fixture.admin("GET", "/api/timeseries?window=2h").status == 400)
        #expect(try fixture.admin("GET", "/api/timeseries?windw=1h").json?.string("message")?.contains("did you mean 'window'") == true)
    }
}
