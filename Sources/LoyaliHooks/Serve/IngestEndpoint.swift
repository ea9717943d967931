import Foundation
import Synchronization

/// The `http` source: the handler of one ingest listener (`source.listen`), serving every
/// `source.path` configured on that address.
///
/// `POST` one event as `application/json` or a batch as `application/x-ndjson`. The answer is
/// sent only after the resulting deliveries are durable (through the ``IngestCommitter``):
/// - 202 with the accepted event ids and, per subscribed pipeline and sink, the delivery ids;
/// - 400 naming each bad line and why; good lines of the same batch are still accepted, and the
///   body lists them as a 202 would;
/// - 401 without the right bearer token (compared in constant time), 404 for an unknown path,
///   405 for another method, 413 over the body cap, 415 for another content type, 503 while
///   shutting down or when the store cannot be written.
public final class IngestEndpoint: HTTPServerHandler {
    /// What one path serves in the current configuration.
    public struct Route: Sendable {
        /// The source definition (path and token).
        public var source: HTTPSource
        /// The pipelines subscribed to it.
        public var planners: [DeliveryPlanner]
        /// The runner whose outbox window their deliveries go to.
        public var runner: DeliveryRunner
        /// The runner's ``DeliveryRunner/layoutVersion`` the planners are from.
        public var plannedVersion: Int

        /// Makes a route from its parts; `plannedVersion` defaults to the runner's current one.
        public init(source: HTTPSource, planners: [DeliveryPlanner], runner: DeliveryRunner, plannedVersion: Int? = nil) {
            self.source = source
            self.planners = planners
            self.runner = runner
            self.plannedVersion = plannedVersion ?? runner.layoutVersion.load(ordering: .acquiring)
        }
    }

    /// Media types accepted, and how each body is split.
    static let formats: [String: IngestPlan.Format] = [
        "application/json": .single,
        "application/x-ndjson": .lines,
        "application/ndjson": .lines,
        "application/jsonl": .lines,
    ]

    private let routes: Mutex<[String: Route]>
    private let committer: IngestCommitter
    private let metrics: ServeMetrics
    private let logger: Logger
    private let clock: any DeliveryClock
    private let draining = Atomic<Bool>(false)

    /// Serves `routes` (by path), storing through `committer`.
    public init(
        routes: [String: Route], committer: IngestCommitter, metrics: ServeMetrics, logger: Logger,
        clock: any DeliveryClock = SystemClock()
    ) {
        self.routes = Mutex(routes)
        self.committer = committer
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
    }

    /// Switches to a new configuration's routes; requests already being handled finish with the
    /// old ones.
    public func update(routes newRoutes: [String: Route]) {
        routes.withLock { $0 = newRoutes }
    }

    /// The paths served now.
    public var paths: [String] { routes.withLock { Array($0.keys).sorted() } }

    /// From now on every request gets 503 and its connection is closed (shutdown).
    public func beginDraining() { draining.store(true, ordering: .relaxed) }

    public func respondBeforeBody(to head: HTTPServerRequest) -> HTTPServerResponse? {
        let route = routes.withLock { $0[head.path] }
        guard let route else {
            return .error(404, "not_found", "no ingest endpoint at \(head.path)")
        }
        guard head.method == "POST" else {
            return .error(405, "method_not_allowed", "ingest endpoints accept POST only", headers: [HTTPHeader(name: "Allow", value: "POST")])
        }
        if let token = route.source.token, !token.matches(head.bearerToken) {
            return .error(
                401, "unauthorized", head.header("Authorization") == nil ? "missing bearer token" : "invalid bearer token",
                headers: [HTTPHeader(name: "WWW-Authenticate", value: "Bearer")])
        }
        guard let mediaType = head.mediaType, Self.formats[mediaType] != nil else {
            return .error(
                415, "unsupported_media_type",
                "send one event as application/json or a batch as application/x-ndjson, not \(head.mediaType ?? "no Content-Type")")
        }
        if draining.load(ordering: .relaxed) { return Self.unavailable("shutting down") }
        return nil
    }

    public func handle(_ request: HTTPServerRequest, responder: HTTPResponder) {
        guard let route = routes.withLock({ $0[request.path] }), let format = request.mediaType.flatMap({ Self.formats[$0] }) else {
            responder.respond(.error(404, "not_found", "no ingest endpoint at \(request.path)"))
            return
        }
        let nowMs = clock.nowMs()
        let decoder = InputEventDecoder(ingestTime: ingestTime(nowMs / 1000))
        let plan = IngestPlan(body: request.body, format: format, decoder: decoder, planners: route.planners, createdAtMs: nowMs)
        let source = route.source.identity
        for rejection in plan.rejections {
            let column = rejection.column.map { " at column \($0)" } ?? ""
            logger.log(.warn, "input:\(rejection.line): \(rejection.reason)\(column)", ["source": source])
        }
        for failure in plan.transformFailures {
            logger.log(.error, "transform failed", ["pipeline": failure.pipeline, "event": failure.eventID, "error": failure.failure.description])
        }
        let status = plan.rejections.isEmpty ? 202 : 400
        guard !plan.rows.isEmpty else {
            // Nothing to make durable: rejected, or no pipeline subscribes to these types.
            metrics.ingested(source: source, accepted: plan.events.count, rejected: plan.rejections.count)
            responder.respond(.json(status, plan.responseObject()))
            return
        }
        // The answer is built here, on the listener's thread; the committer only releases it.
        let answer = HTTPServerResponse.json(status, plan.responseObject())
        let (accepted, rejected) = (plan.events.count, plan.rejections.count)
        let submission = IngestCommitter.Submission(
            runner: route.runner, plannedVersion: route.plannedVersion, rows: plan.rows, counters: plan.counters
        ) {
            [metrics] result in
            switch result {
            case .success:
                metrics.ingested(source: source, accepted: accepted, rejected: rejected)
                responder.respond(answer)
            case .failure(let error):
                responder.respond(Self.unavailable("the delivery store could not be written: \(error)"))
            }
        }
        if !committer.submit(submission) {
            responder.respond(Self.unavailable("shutting down"))
        }
    }

    /// `created_at` for events without one, formatted once per second rather than per request.
    private let formattedSecond = Mutex<(second: Int64, text: String)>((.min, ""))

    private func ingestTime(_ second: Int64) -> String {
        if let cached = formattedSecond.withLock({ $0.second == second ? $0.text : nil }) { return cached }
        let text = RFC3339.format(unixSeconds: second)
        formattedSecond.withLock { $0 = (second, text) }
        return text
    }

    /// Every answer is counted here, including those the server makes before this handler runs.
    public func answered(status: Int) {
        metrics.ingestResponse(status: status)
    }

    static func unavailable(_ message: String) -> HTTPServerResponse {
        var response = HTTPServerResponse.error(503, "unavailable", message, headers: [HTTPHeader(name: "Retry-After", value: "1")])
        response.closesConnection = true
        return response
    }
}
