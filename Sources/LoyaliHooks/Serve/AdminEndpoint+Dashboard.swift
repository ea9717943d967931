import Foundation

/// The dashboard's pages, login and logout, and the reads only it needs (charts, the request a
/// delivery sends).
extension AdminEndpoint {
    func dashboard(_ route: Route, _ request: HTTPServerRequest) -> HTTPServerResponse {
        let nowMs = context.clock.nowMs()
        switch route {
        case .asset(let name):
            guard let asset = DashboardAssets.files[name] else { return .error(404, "not_found", "no such asset: \(name)") }
            return HTTPServerResponse(
                status: 200, headers: [HTTPHeader(name: "Content-Type", value: asset.type), HTTPHeader(name: "Cache-Control", value: "no-cache")],
                body: Array(asset.text.utf8))
        case .page:
            guard let session = context.sessions.session(AdminGuard.cookie(AdminGuard.sessionCookie, in: request), nowMs: nowMs) else {
                return HTTPServerResponse(status: 303, headers: [HTTPHeader(name: "Location", value: "/login")])
            }
            return .text(200, DashboardAssets.shell(csrf: session.csrf), contentType: "text/html; charset=utf-8")
        case .loginPage:
            if context.sessions.session(AdminGuard.cookie(AdminGuard.sessionCookie, in: request), nowMs: nowMs) != nil {
                return HTTPServerResponse(status: 303, headers: [HTTPHeader(name: "Location", value: "/")])
            }
            return loginPage(status: 200, message: nil, request: request)
        case .login:
            return login(request, nowMs: nowMs)
        case .logout:
            let id = AdminGuard.cookie(AdminGuard.sessionCookie, in: request)
            context.sessions.end(id)
            return .json(
                200, JSONObject(["status": .string("logged_out")]),
                headers: [AdminGuard.setCookie(AdminGuard.sessionCookie, "", maxAgeSeconds: 0, secure: AdminGuard.overTLS(request))])
        default:
            return .error(404, "not_found", "no such page")
        }
    }

    /// The login form, with a fresh double-submit CSRF token in a cookie and a hidden field.
    private func loginPage(status: Int, message: String?, request: HTTPServerRequest) -> HTTPServerResponse {
        let csrf = AdminSessions.randomToken()
        var response = HTTPServerResponse.text(status, DashboardAssets.login(csrf: csrf, message: message), contentType: "text/html; charset=utf-8")
        response.headers.append(AdminGuard.setCookie(AdminGuard.loginCookie, csrf, maxAgeSeconds: 3_600, secure: AdminGuard.overTLS(request)))
        return response
    }

    /// `POST /login` (a form: `token`, `csrf`): the admin token for a session cookie.
    private func login(_ request: HTTPServerRequest, nowMs: Int64) -> HTTPServerResponse {
        let form = Self.formFields(request.body)
        let expected = AdminGuard.cookie(AdminGuard.loginCookie, in: request)
        guard let expected, let presented = form["csrf"], ConstantTime.equals(Array(presented.utf8), Array(expected.utf8)) else {
            return loginPage(status: 403, message: "The form expired or came from another site. Try again.", request: request)
        }
        guard context.loginToken.matches(form["token"]?.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return loginPage(status: 401, message: "That is not the admin token.", request: request)
        }
        let (id, _) = context.sessions.create(nowMs: nowMs)
        let secure = AdminGuard.overTLS(request)
        return HTTPServerResponse(status: 303, headers: [
            HTTPHeader(name: "Location", value: "/"),
            AdminGuard.setCookie(AdminGuard.sessionCookie, id, maxAgeSeconds: context.sessions.lifetimeMs / 1000, secure: secure),
            AdminGuard.setCookie(AdminGuard.loginCookie, "", maxAgeSeconds: 0, secure: secure),
        ])
    }

    /// `application/x-www-form-urlencoded` fields (the last of a repeated name wins).
    static func formFields(_ body: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String? { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = decode(parts[0]) else { continue }
            fields[name] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
        return fields
    }

    /// `GET /api/deliveries/{id}/request`: the stored body as sent, and the headers the pipeline
    /// running now sends with it, signatures masked and configured headers as written (`${VAR}`).
    func sentRequest(_ id: String) throws -> HTTPServerResponse {
        guard let (summary, attempts) = try context.store.detail(id: id), let body = try context.store.body(id: id) else {
            return .error(404, "not_found", "no delivery '\(id)'")
        }
        var object = JSONObject()
        object["id"] = .string(id)
        object["body"] = .string(String(decoding: body, as: UTF8.self))
        object["body_bytes"] = .number(JSONNumber(Int64(body.count)))
        let pipeline = context.configuration.pipelines.first { $0.name == summary.pipeline }
        if let pipeline, let sink = pipeline.sinks.first(where: { $0.name == summary.sink }) {
            let timestamp = (attempts.last?.startedAtMs ?? summary.updatedAtMs) / 1000
            let sent = DeliveryPlanner(pipeline: pipeline).signedRequest(
                for: sink, deliveryID: id, eventID: summary.eventID, eventType: summary.eventType, body: body,
                attempt: max(1, summary.attempts), timestamp: timestamp, forDisplay: true)
            object["target"] = .string(sink.sink.target)
            object["headers"] = .array(sent.headers.map { header in
                let masked = header.name.lowercased().contains("signature")
                return .object(JSONObject([
                    "name": .string(header.name), "value": .string(masked ? "•••••• (masked)" : header.value), "masked": .bool(masked),
                ]))
            })
        } else {
            object["target"] = .null
            object["headers"] = .null
        }
        return .json(200, object)
    }

    /// `GET /api/timeseries?window=1h|24h|7d`: attempts per bucket by outcome and their latency,
    /// buckets of 1 minute, 10 minutes or 1 hour, aligned on the bucket width.
    func timeseries(_ request: HTTPServerRequest) throws -> HTTPServerResponse {
        for item in request.query where item.name != "window" {
            throw BadRequest("unknown query parameter '\(item.name)'\(Suggestion.didYouMean(item.name, in: ["window"]))")
        }
        let window = request.queryValue("window") ?? "1h"
        let (count, bucketMs): (Int64, Int64)
        switch window {
        case "1h": (count, bucketMs) = (60, 60_000)
        case "24h": (count, bucketMs) = (144, 600_000)
        case "7d": (count, bucketMs) = (168, 3_600_000)
        default: throw BadRequest("window must be one of 1h, 24h, 7d")
        }
        let nowMs = context.clock.nowMs()
        let until = (nowMs / bucketMs + 1) * bucketMs
        let since = until - count * bucketMs
        let buckets = try context.store.series(sinceMs: since, untilMs: until, bucketMs: bucketMs)
        func number(_ value: Int64?) -> JSONValue { value.map { .number(JSONNumber($0)) } ?? .null }
        return .json(200, JSONObject([
            "window": .string(window), "bucket_seconds": .number(JSONNumber(bucketMs / 1000)),
            "since": .string(DeliveryJSON.time(since)), "until": .string(DeliveryJSON.time(until)),
            "buckets": .array(buckets.map { bucket in
                .object(JSONObject([
                    "start": .string(DeliveryJSON.time(bucket.startMs)),
                    "succeeded": number(Int64(bucket.succeeded)), "retried": number(Int64(bucket.retried)), "failed": number(Int64(bucket.failed)),
                    "latency_p50_ms": number(bucket.latencyP50Ms), "latency_p95_ms": number(bucket.latencyP95Ms),
                ]))
            }),
        ]))
    }

    /// `validate --json`'s rendering of a pipeline plus what the Routes page shows: the line its
    /// name is on, its description, and each sink's retry schedule.
    static func pipelineDetail(_ pipeline: PipelineDefinition) -> JSONObject {
        var object = DeliveryJSON.pipeline(pipeline)
        let text = (try? String(contentsOfFile: pipeline.file, encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("pipeline:") }
        object["line"] = line.map { .number(JSONNumber(Int64($0 + 1))) } ?? .null
        object["description"] = pipeline.description.map(JSONValue.string) ?? .null
        object["sinks"] = .array(pipeline.sinks.map { sink in
            .object(JSONObject([
                "name": .string(sink.name), "type": .string(sink.sink.kind), "target": .string(sink.sink.target),
                "retry": .array(sink.retry.schedule.map { .string($0.configDescription) }),
                "jitter": .number(JSONNumber(literal: String(sink.retry.jitter))),
            ]))
        })
        return object
    }
}
