import Foundation

/// The admin listener of `serve`: probes, Prometheus metrics, a JSON API that mirrors the CLI
/// (described in `docs/openapi.yaml`) and the dashboard.
///
/// | method | path | CLI |
/// |---|---|---|
/// | GET | `/healthz` | answers while the process is alive |
/// | GET | `/readyz` | 200 once the store is open and pipelines are loaded, else 503 (also while the store cannot be written, e.g. a full disk) |
/// | GET | `/metrics` | Prometheus text format |
/// | GET | `/api/deliveries` | `deliveries [--status …] [--pipeline …] [--sink …] [--event-type …] [--since …] [--limit …]` |
/// | GET | `/api/deliveries/{id}` | `deliveries show ID` |
/// | GET | `/api/deliveries/{id}/request` | the stored body and the headers sent, secrets masked |
/// | POST | `/api/deliveries/{id}/resend` | `resend ID` |
/// | POST | `/api/resend` | `resend ID…` or `resend --failed [filters]` |
/// | GET | `/api/stats` | `stats [--since …]` |
/// | GET | `/api/sinks` | `sinks list` |
/// | POST | `/api/sinks/{pipeline}/{sink}/enable`, `…/disable` | `sinks enable|disable PIPELINE/SINK` |
/// | GET | `/api/timeseries` | deliveries per minute by outcome and latency, for the charts |
/// | GET | `/api/routes` | which event types go to which sinks |
/// | GET | `/api/pipelines` | `validate --json` |
/// | GET | `/api/events` | `events` (the catalogue) |
/// | POST | `/api/pipelines/{name}/test` | `test NAME --event TYPE` |
/// | POST | `/api/validate` | `validate FILE` on YAML text |
/// | POST | `/api/preview` | `run --dry-run` of YAML text on a sample |
/// | POST | `/api/reload` | SIGHUP |
/// | GET | `/`, `/login`, `/assets/…`; POST `/login`, `/logout` | the dashboard |
///
/// With a token configured, `/api/` and `/metrics` require `Authorization: Bearer <token>` or a
/// dashboard session; the probes never do. The mutating endpoints need a token or a session
/// (with its CSRF token) even without one configured: the daemon's login token then.
public final class AdminEndpoint: HTTPServerHandler {
    let context: AdminContext

    /// Serves `context`.
    public init(context: AdminContext) { self.context = context }

    /// A matched route: what to do and the path parameter, if any.
    enum Route: Equatable {
        case health, ready, metrics
        case deliveries, delivery(String), deliveryRequest(String), resendOne(String), resend
        case stats, timeseries, routes, pipelines, events, test(String), validate, preview, reload
        case sinks, setSinkEnabled(pipeline: String, sink: String, enabled: Bool)
        case page, loginPage, login, logout, asset(String)

        /// Who may use a route.
        enum Access { case probe, open, page, read, mutate }

        var access: Access {
            switch self {
            case .health, .ready: .probe
            case .loginPage, .login, .asset: .open
            case .page: .page
            case .metrics, .deliveries, .delivery, .deliveryRequest, .stats, .timeseries, .routes, .pipelines, .events, .sinks: .read
            case .resendOne, .resend, .test, .validate, .preview, .reload, .logout, .setSinkEnabled: .mutate
            }
        }
    }

    /// Matches `path`; returns the route for each method the path allows.
    static func match(_ path: String) -> [String: Route]? {
        if path == "/" { return ["GET": .page] }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        switch parts.count {
        case 1:
            switch parts[0] {
            case "healthz": return ["GET": .health]
            case "readyz": return ["GET": .ready]
            case "metrics": return ["GET": .metrics]
            case "login": return ["GET": .loginPage, "POST": .login]
            case "logout": return ["POST": .logout]
            default: return nil
            }
        case 2 where parts[0] == "assets":
            return ["GET": .asset(parts[1])]
        case 2 where parts[0] == "api":
            switch parts[1] {
            case "deliveries": return ["GET": .deliveries]
            case "resend": return ["POST": .resend]
            case "stats": return ["GET": .stats]
            case "sinks": return ["GET": .sinks]
            case "timeseries": return ["GET": .timeseries]
            case "routes": return ["GET": .routes]
            case "pipelines": return ["GET": .pipelines]
            case "events": return ["GET": .events]
            case "validate": return ["POST": .validate]
            case "preview": return ["POST": .preview]
            case "reload": return ["POST": .reload]
            default: return nil
            }
        case 3 where parts[0] == "api" && parts[1] == "deliveries":
            return ["GET": .delivery(parts[2])]
        case 4 where parts[0] == "api" && parts[1] == "deliveries" && parts[3] == "resend":
            return ["POST": .resendOne(parts[2])]
        case 4 where parts[0] == "api" && parts[1] == "deliveries" && parts[3] == "request":
            return ["GET": .deliveryRequest(parts[2])]
        case 4 where parts[0] == "api" && parts[1] == "pipelines" && parts[3] == "test":
            return ["POST": .test(parts[2])]
        case 5 where parts[0] == "api" && parts[1] == "sinks" && (parts[4] == "enable" || parts[4] == "disable"):
            return ["POST": .setSinkEnabled(pipeline: parts[2], sink: parts[3], enabled: parts[4] == "enable")]
        default:
            return nil
        }
    }

    public func respondBeforeBody(to head: HTTPServerRequest) -> HTTPServerResponse? {
        guard let routes = Self.match(head.path) else {
            return AdminGuard.harden(.error(404, "not_found", "no such endpoint: \(head.path)"))
        }
        let method = head.method == "HEAD" ? "GET" : head.method
        guard let route = routes[method] else {
            let allowed = routes.keys.sorted().joined(separator: ", ")
            return AdminGuard.harden(
                .error(405, "method_not_allowed", "\(head.path) allows \(allowed)", headers: [HTTPHeader(name: "Allow", value: allowed)]))
        }
        return authorize(route, head).map(AdminGuard.harden)
    }

    public func handle(_ request: HTTPServerRequest, responder: HTTPResponder) {
        guard let route = Self.match(request.path)?[request.method == "HEAD" ? "GET" : request.method] else {
            responder.respond(AdminGuard.harden(.error(404, "not_found", "no such endpoint: \(request.path)")))
            return
        }
        switch route {
        case .test(let name):
            // Sending waits on the sinks (up to their timeouts): do it on a thread of its own.
            let body = request.body
            let query = request.query
            Thread.detachNewThread { [self] in
                responder.respond(AdminGuard.harden(test(name, body: body, query: query)))
            }
            return
        case .reload:
            // A reload waits for the daemon's control lock, which a shutdown holds while it
            // stops this very listener: never wait for it on a listener thread.
            Thread.detachNewThread { [self] in
                responder.respond(AdminGuard.harden(reload()))
            }
            return
        case .validate, .preview:
            // Loading a pipeline may start its plugins: not on a polling thread.
            Thread.detachNewThread { [self] in
                responder.respond(AdminGuard.harden(route == .validate ? validate(request) : preview(request)))
            }
            return
        case .page, .loginPage, .login, .logout, .asset:
            responder.respond(AdminGuard.harden(dashboard(route, request)))
            return
        default:
            break
        }
        responder.respond(AdminGuard.harden(respond(route, request)))
    }

    private func respond(_ route: Route, _ request: HTTPServerRequest) -> HTTPServerResponse {
        do {
            switch route {
            case .health:
                return .json(200, JSONObject(["status": .string("ok")]))
            case .ready:
                let (ready, reason) = context.readiness
                let generation = context.configuration.generation
                return ready
                    ? .json(200, JSONObject(["status": .string("ready"), "generation": .number(JSONNumber(Int64(generation)))]))
                    : .json(503, JSONObject(["status": .string("not_ready"), "reason": .string(reason)]))
            case .metrics:
                return .text(200, metricsText(), contentType: PrometheusText.contentType)
            case .deliveries:
                let nowMs = context.clock.nowMs()
                let query = try Self.query(from: request, nowMs: nowMs, allowLimit: true)
                let before = try request.queryValue("before").map { text in
                    guard let cursor = DeliveryLogCursor(text: text) else { throw BadRequest("before must be the 'next' cursor of a previous page") }
                    return cursor
                }
                let until = try Self.since(request.queryValue("until"), nowMs: nowMs)
                let page = try context.store.page(query, search: request.queryValue("q"), untilMs: until, before: before)
                return .json(200, JSONObject([
                    "deliveries": .array(zip(page.rows, page.lastDurationsMs).map { row, duration in
                        var object = DeliveryJSON.summary(row)
                        object["last_duration_ms"] = duration.map { .number(JSONNumber($0)) } ?? .null
                        return .object(object)
                    }),
                    "next": page.next.map { .string($0.text) } ?? .null,
                ]))
            case .deliveryRequest(let id):
                return try sentRequest(id)
            case .timeseries:
                return try timeseries(request)
            case .events:
                return catalogue()
            case .delivery(let id):
                guard let (summary, attempts) = try context.store.detail(id: id) else {
                    return .error(404, "not_found", "no delivery '\(id)'")
                }
                return .json(200, DeliveryJSON.detail(summary, attempts: attempts))
            case .resendOne(let id):
                let result = try context.store.resendReporting(ids: [id], nowMs: context.clock.nowMs())
                guard result.queued == [id] else {
                    if result.unknown == [id] { return .error(404, "not_found", "no delivery '\(id)'") }
                    return .error(409, "in_flight", "delivery '\(id)' is being sent right now; try again when the attempt is recorded")
                }
                context.currentHooks.resent()
                return .json(202, JSONObject(["queued": .array([.string(id)])]))
            case .resend:
                return try resend(request)
            case .stats:
                let nowMs = context.clock.nowMs()
                let sinceMs = SinkStats.windowStart(sinceMs: try Self.since(request.queryValue("since"), nowMs: nowMs) ?? nowMs - 86_400_000)
                let rows = try context.store.stats(sinceMs: sinceMs)
                let states = try context.store.sinkStates()
                return .json(200, JSONObject([
                    "since": .string(DeliveryJSON.time(sinceMs)),
                    "sinks": .array(rows.map { .object(DeliveryJSON.stats($0, state: states.first(pipeline: $0.pipeline, sink: $0.sink))) }),
                ]))
            case .sinks:
                return .json(200, JSONObject(["sinks": .array(try sinkStates().map(\.json))]))
            case .setSinkEnabled(let pipeline, let sink, let enabled):
                return try setSinkEnabled(pipeline: pipeline, sink: sink, enabled: enabled)
            case .routes:
                let (pipelines, generation) = context.configuration
                return .json(200, JSONObject([
                    "generation": .number(JSONNumber(Int64(generation))), "routes": .array(DeliveryJSON.routes(pipelines)),
                ]))
            case .pipelines:
                let (pipelines, generation) = context.configuration
                return .json(200, JSONObject([
                    "generation": .number(JSONNumber(Int64(generation))),
                    "pipelines": .array(pipelines.map { .object(Self.pipelineDetail($0)) }),
                ]))
            case .test, .reload, .validate, .preview, .page, .loginPage, .login, .logout, .asset:
                return .error(500, "internal", "answered elsewhere")
            }
        } catch let error as BadRequest {
            return .error(400, "invalid_parameter", error.message)
        } catch {
            return .error(500, "store_error", "\(error)")
        }
    }

    private func metricsText() -> String {
        let outbox = try? context.store.outboxGauges()
        return context.metrics.render(ServeMetrics.Snapshot(
            outbox: outbox, commits: context.currentHooks.commits(), ready: context.readiness.ready, runners: context.runners,
            sinkStates: try? context.store.sinkStates()))
    }

    /// `POST /api/reload`.
    private func reload() -> HTTPServerResponse {
        if let diagnostics = context.currentHooks.reload() {
            return .error(
                422, "invalid_configuration", "the new configuration has errors; the old one keeps running",
                extra: [JSONObject.Member(key: "diagnostics", value: .array(diagnostics.map { .string($0.headline) }))])
        }
        return .json(200, JSONObject(["status": .string("reloaded"), "generation": .number(JSONNumber(Int64(context.configuration.generation)))]))
    }

    /// `POST /api/resend`: `{"ids": [...]}`, or `{"failed": true, "pipeline", "sink", "event_type", "since"}`.
    private func resend(_ request: HTTPServerRequest) throws -> HTTPServerResponse {
        let object = try Self.bodyObject(request)
        let nowMs = context.clock.nowMs()
        if let ids = object["ids"] {
            guard object["failed"] == nil else { throw BadRequest("give either 'ids' or 'failed', not both") }
            guard let list = ids.arrayValue, !list.isEmpty, list.allSatisfy({ $0.stringValue != nil }) else {
                throw BadRequest("'ids' must be a non-empty array of delivery ids")
            }
            let wanted = list.compactMap(\.stringValue)
            let result = try context.store.resendReporting(ids: wanted, nowMs: nowMs)
            if !result.queued.isEmpty { context.currentHooks.resent() }
            let notQueued = wanted.filter { !result.queued.contains($0) }
            return .json(202, JSONObject([
                "queued": .array(result.queued.map(JSONValue.string)), "not_queued": .array(notQueued.map(JSONValue.string)),
                "in_flight": .array(result.inFlight.map(JSONValue.string)), "unknown": .array(result.unknown.map(JSONValue.string)),
            ]))
        }
        guard object["failed"] == .bool(true) else {
            throw BadRequest("give 'ids': [...] to resend those deliveries, or 'failed': true to resend failed ones")
        }
        var query = DeliveryQuery(status: .failed, limit: Int.max)
        for (key, _) in object.members.map({ ($0.key, $0.value) }) where !["failed", "pipeline", "sink", "event_type", "since"].contains(key) {
            throw BadRequest("unknown field '\(key)'\(Suggestion.didYouMean(key, in: ["failed", "pipeline", "sink", "event_type", "since"]))")
        }
        query.pipeline = try Self.string(object["pipeline"], "pipeline")
        query.sink = try Self.string(object["sink"], "sink")
        query.eventType = try Self.string(object["event_type"], "event_type")
        query.sinceMs = try Self.since(try Self.string(object["since"], "since"), nowMs: nowMs)
        let count = try context.store.resend(matching: query, nowMs: nowMs)
        if count > 0 { context.currentHooks.resent() }
        return .json(202, JSONObject(["queued_count": .number(JSONNumber(Int64(count)))]))
    }

    /// `POST /api/pipelines/{name}/test`: `{"event": "points.earned", "sinks": ["hook"]}`, or
    /// `?event=` and `?sink=` (repeatable). Without sinks, the sample goes to the pipeline's http
    /// and plugin sinks only, as with `loyali-hooks test`.
    private func test(_ name: String, body: [UInt8], query: [(name: String, value: String?)]) -> HTTPServerResponse {
        var eventName = query.last { $0.name == "event" }?.value
        var sinkNames = query.filter { $0.name == "sink" }.compactMap(\.value)
        do {
            let object = try Self.bodyObject(HTTPServerRequest(method: "POST", path: "", body: body))
            if eventName == nil {
                eventName = try Self.string(object["event"] ?? object["event_type"], "event")
            }
            if let sinks = object["sinks"], sinks != .null {
                guard let names = sinks.arrayValue?.compactMap(\.stringValue), names.count == sinks.arrayValue?.count else {
                    throw BadRequest("'sinks' must be an array of sink names")
                }
                sinkNames += names
            }
        } catch let error as BadRequest {
            return .error(400, "invalid_parameter", error.message)
        } catch {
            return .error(400, "invalid_parameter", "\(error)")
        }
        guard let eventName else { return .error(400, "invalid_parameter", "give the event type as {\"event\": \"points.earned\"}") }
        guard let type = EventCatalogue.type(named: eventName) else {
            return .error(400, "invalid_parameter", "unknown event type '\(eventName)'\(Suggestion.didYouMean(eventName, in: EventCatalogue.names))")
        }
        let pipelines = context.configuration.pipelines
        guard let pipeline = pipelines.first(where: { $0.name == name }) else {
            return .error(404, "not_found", "no pipeline '\(name)'\(Suggestion.didYouMean(name, in: pipelines.map(\.name)))")
        }
        do {
            let chosen = try pipeline.sinksForTest(named: sinkNames)
            let results = try SampleSend.send(type, through: chosen, timestamp: context.clock.nowMs() / 1000)
            return .json(200, JSONObject([
                "pipeline": .string(name), "event_type": .string(type.name),
                "ok": .bool(results.allSatisfy { $0.outcome.isSuccess }),
                "results": .array(results.map { .object($0.json) }),
            ]))
        } catch {
            return .error(400, "not_sendable", error.message)
        }
    }

    // MARK: Parameters

    /// A client mistake in parameters or body: 400.
    struct BadRequest: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    /// The delivery-log filters from query arguments, as the CLI's options.
    static func query(from request: HTTPServerRequest, nowMs: Int64, allowLimit: Bool) throws -> DeliveryQuery {
        let known = ["status", "pipeline", "sink", "event_type", "since", "limit", "until", "q", "before"]
        for item in request.query where !known.contains(item.name) {
            throw BadRequest("unknown query parameter '\(item.name)'\(Suggestion.didYouMean(item.name, in: known))")
        }
        var query = DeliveryQuery()
        if let status = request.queryValue("status") {
            guard let parsed = DeliveryStatus(rawValue: status) else {
                throw BadRequest("status must be one of \(DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.status = parsed
        }
        query.pipeline = request.queryValue("pipeline")
        query.sink = request.queryValue("sink")
        query.eventType = request.queryValue("event_type")
        query.sinceMs = try since(request.queryValue("since"), nowMs: nowMs)
        if let limit = request.queryValue("limit") {
            guard let value = Int(limit), (1...10_000).contains(value) else { throw BadRequest("limit must be an integer from 1 to 10000") }
            query.limit = value
        }
        return query
    }

    static func since(_ text: String?, nowMs: Int64) throws -> Int64? {
        guard let text else { return nil }
        switch Duration.lookBackCutoffMs(text, name: "since", nowMs: nowMs) {
        case .success(let cutoff): return cutoff
        case .failure(let problem): throw BadRequest(problem.message)
        }
    }

    static func string(_ value: JSONValue?, _ name: String) throws -> String? {
        guard let value, value != .null else { return nil }
        guard let string = value.stringValue else { throw BadRequest("'\(name)' must be a string") }
        return string
    }

    /// The body as a JSON object; an empty body is an empty object.
    static func bodyObject(_ request: HTTPServerRequest) throws -> JSONObject {
        guard request.body.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else { return JSONObject() }
        let value: JSONValue
        do {
            value = try JSONParser.parse(request.body)
        } catch {
            throw BadRequest("the body is not valid JSON: \(error.reason) at line \(error.line), column \(error.column)")
        }
        guard let object = value.objectValue else { throw BadRequest("the body must be a JSON object, not \(value.kindName)") }
        return object
    }
}
