/// The JSON renderings of the delivery log, stats and pipelines, shared by the CLI's `--json`
/// output and the admin API so both report the same fields in the same order.
public enum DeliveryJSON {
    /// One delivery-log row (`deliveries --json`, `GET /api/deliveries`).
    public static func summary(_ row: DeliverySummary) -> JSONObject {
        var object = JSONObject()
        object["id"] = .string(row.id)
        object["pipeline"] = .string(row.pipeline)
        object["sink"] = .string(row.sink)
        object["event_id"] = .string(row.eventID)
        object["event_type"] = .string(row.eventType)
        object["status"] = .string(row.status.rawValue)
        object["attempts"] = .number(JSONNumber(Int64(row.attempts)))
        object["created_at"] = .string(time(row.createdAtMs))
        object["updated_at"] = .string(time(row.updatedAtMs))
        object["next_attempt_at"] = row.nextAttemptMs.map { .string(time($0)) } ?? .null
        object["last_http_status"] = row.lastHTTPStatus.map { .number(JSONNumber(Int64($0))) } ?? .null
        object["last_error"] = row.lastError.map(JSONValue.string) ?? .null
        return object
    }

    /// One delivery with its attempt timeline under `attempt_log` (`deliveries show --json`,
    /// `GET /api/deliveries/{id}`).
    public static func detail(_ row: DeliverySummary, attempts: [AttemptRow]) -> JSONObject {
        var object = summary(row)
        object["attempt_log"] = .array(attempts.map { .object(attempt($0)) })
        return object
    }

    /// One attempt of the timeline.
    public static func attempt(_ row: AttemptRow) -> JSONObject {
        var object = JSONObject()
        object["attempt"] = .number(JSONNumber(Int64(row.attempt)))
        object["started_at"] = .string(time(row.startedAtMs))
        object["duration_ms"] = .number(JSONNumber(row.durationMs))
        object["http_status"] = row.httpStatus.map { .number(JSONNumber(Int64($0))) } ?? .null
        object["error_class"] = row.errorClass.map(JSONValue.string) ?? .null
        object["error"] = row.errorMessage.map(JSONValue.string) ?? .null
        object["response_snippet"] = row.responseSnippet.map(JSONValue.string) ?? .null
        object["node"] = row.node.map(JSONValue.string) ?? .null
        if case .retry(let next) = row.outcome {
            object["next_attempt_at"] = .string(time(next))
        } else {
            object["next_attempt_at"] = .null
        }
        return object
    }

    /// One row of the health table (`stats --json`, `GET /api/stats`). `pending` counts deliveries
    /// waiting for an attempt (first or retry), `in_flight` those being sent; a `healthy` flag is
    /// `null` when there is nothing to judge yet or the figure is not final (see ``SinkHealth``).
    /// `state` is the sink's stored health (``SinkState``; healthy when `nil`), shown under
    /// `state`: `{"state": "paused", "since": …, "paused_until": …, …}`.
    public static func stats(_ row: SinkStats, state: SinkState? = nil) -> JSONObject {
        let health = SinkHealth(row)
        func number(_ value: Int64?) -> JSONValue { value.map { .number(JSONNumber($0)) } ?? .null }
        func rate(_ value: Double?) -> JSONValue { value.map { .number(JSONNumber(literal: String(($0 * 10_000).rounded() / 10_000))) } ?? .null }
        func flag(_ value: Bool?) -> JSONValue { value.map(JSONValue.bool) ?? .null }
        var object = JSONObject()
        object["pipeline"] = .string(row.pipeline)
        object["sink"] = .string(row.sink)
        object["deliveries"] = number(Int64(row.total))
        object["succeeded"] = number(Int64(row.succeeded))
        object["failed"] = number(Int64(row.failed))
        object["pending"] = number(Int64(row.pending + row.retrying))
        object["in_flight"] = number(Int64(row.inFlight))
        object["success_rate"] = rate(row.successRate)
        object["retry_rate"] = rate(row.retryRate)
        object["latency_p50_ms"] = number(row.latencyP50Ms)
        object["latency_p95_ms"] = number(row.latencyP95Ms)
        object["latency_p99_ms"] = number(row.latencyP99Ms)
        let latencies = [row.latencyP50Ms, row.latencyP95Ms, row.latencyP99Ms].compactMap { health.latency($0) }
        object["healthy"] = .object(JSONObject([
            "success_rate": flag(health.successRate),
            "latency": flag(latencies.reduce(nil as Bool?) { ($0 ?? true) && $1 }),
            "retry_rate": flag(health.retryRate),
            "failed": flag(health.failed),
        ]))
        object["state"] = sinkState(state ?? SinkState(pipeline: row.pipeline, sink: row.sink))
        return object
    }

    /// A sink's health: `{"pipeline", "sink", "state": "healthy"|"paused"|"disabled", "since",
    /// "paused_until", "consecutive_failures", "failing_since", "reason"}` (`sinks list --json`,
    /// `GET /api/sinks`, and under `state` in the stats).
    public static func sinkState(_ state: SinkState) -> JSONValue {
        let at = { (ms: Int64?) -> JSONValue in ms.map { .string(time($0)) } ?? .null }
        return .object(JSONObject([
            "pipeline": .string(state.pipeline), "sink": .string(state.sink), "state": .string(state.status.rawValue),
            "since": at(state.status == .healthy ? nil : state.changedAtMs),
            "paused_until": at(state.status == .paused ? state.nextProbeMs : nil),
            "consecutive_failures": .number(JSONNumber(Int64(state.consecutiveFailures))), "failing_since": at(state.failingSinceMs),
            "reason": state.reason.isEmpty ? .null : .string(state.reason),
        ]))
    }

    /// A pipeline's routes (`validate --json`, `GET /api/pipelines`).
    public static func pipeline(_ pipeline: PipelineDefinition) -> JSONObject {
        var object = JSONObject()
        object["pipeline"] = .string(pipeline.name)
        object["file"] = .string(pipeline.file)
        object["ok"] = .bool(true)
        object["source"] = .string(pipeline.source.identity)
        object["event_types"] = .array(pipeline.filter.acceptedTypes.map(JSONValue.string))
        object["where"] = pipeline.filter.condition.map { .string($0.source) } ?? .null
        object["steps"] = .array(pipeline.steps.map { .string($0.name) })
        object["signing"] = pipeline.signing.map { .string($0.schemeName) } ?? .null
        object["sinks"] = .array(pipeline.sinks.map { sink in
            .object(JSONObject(["name": .string(sink.name), "type": .string(sink.sink.kind), "target": .string(sink.sink.target)]))
        })
        return object
    }

    /// The routes table: for each catalogue event type, the pipelines and sinks it goes to, in
    /// catalogue order (`GET /api/routes`). Types no pipeline takes are listed with no routes.
    public static func routes(_ pipelines: [PipelineDefinition]) -> [JSONValue] {
        EventCatalogue.names.map { name in
            var deliveries: [JSONValue] = []
            for pipeline in pipelines where pipeline.filter.accepts(name) {
                for sink in pipeline.sinks {
                    deliveries.append(.object(JSONObject([
                        "pipeline": .string(pipeline.name), "sink": .string(sink.name), "type": .string(sink.sink.kind),
                        "target": .string(sink.sink.target), "source": .string(pipeline.source.identity),
                        "where": pipeline.filter.condition.map { .string($0.source) } ?? .null,
                    ])))
                }
            }
            return .object(JSONObject(["event_type": .string(name), "routes": .array(deliveries)]))
        }
    }

    /// Unix milliseconds as RFC 3339 UTC, as the CLI prints them.
    static func time(_ ms: Int64) -> String { RFC3339.format(unixSeconds: ms / 1000) }
}
