/// Builds the envelopes of operational events (see ``EventCatalogue/operational``).
///
/// Ids are derived from what the event is about, never random: `evt_op_` and 128 bits of SHA-256
/// over the event type, the delivery id and the attempt number (or the pipeline, sink and time of a
/// sink's change). If the runner emits the same event again (a crash between storing the event and
/// recording the attempt, so the attempt is judged again), the store already holds deliveries with
/// those ids and each subscription still gets it once.
public enum OperationalEvent {
    /// `delivery.failed`: `delivery` used up its last attempt, `record`.
    public static func deliveryFailed(_ delivery: ClaimedDelivery, record: AttemptRecord, reason: String, atMs: Int64) -> EventEnvelope {
        var data = JSONObject()
        describe(delivery, into: &data)
        data["attempts"] = .number(JSONNumber(Int64(delivery.attempt)))
        data["error_class"] = .string(record.errorClass ?? "failed")
        data["error"] = .string(record.errorMessage ?? reason)
        data["http_status"] = record.httpStatus.map { .number(JSONNumber(Int64($0))) } ?? .null
        data["failed_at"] = .string(RFC3339.format(unixSeconds: atMs / 1000))
        return envelope("delivery.failed", idParts: [delivery.id, String(delivery.attempt)], atMs: atMs, data: data)
    }

    /// `delivery.failed` of `row`, which a transform step failed at ingest with `error`: stored
    /// failed without an attempt, so `attempts` is 0 and the error class `transform`.
    public static func deliveryFailed(atIngest row: NewDelivery, error: String, atMs: Int64) -> EventEnvelope {
        var data = JSONObject()
        data["delivery_id"] = .string(row.id)
        data["pipeline"] = .string(row.pipeline)
        data["sink"] = .string(row.sink)
        data["event_id"] = .string(row.eventID)
        data["event_type"] = .string(row.eventType)
        data["attempts"] = .number(JSONNumber(Int64(0)))
        data["error_class"] = .string("transform")
        data["error"] = .string(error)
        data["http_status"] = .null
        data["failed_at"] = .string(RFC3339.format(unixSeconds: atMs / 1000))
        return envelope("delivery.failed", idParts: [row.id, "0"], atMs: atMs, data: data)
    }

    /// How many times at most an event about an operational pipeline's own failed delivery
    /// makes another one (loading refuses circles; this bounds a chain regardless).
    static let maxChain = 16

    /// `delivery.recovered`: `delivery` succeeded on attempt `delivery.attempt`, after earlier ones
    /// that did not.
    public static func deliveryRecovered(_ delivery: ClaimedDelivery, record: AttemptRecord, atMs: Int64) -> EventEnvelope {
        var data = JSONObject()
        describe(delivery, into: &data)
        data["attempts"] = .number(JSONNumber(Int64(delivery.attempt)))
        data["failed_attempts"] = .number(JSONNumber(Int64(delivery.attempt - 1)))
        data["http_status"] = record.httpStatus.map { .number(JSONNumber(Int64($0))) } ?? .null
        data["recovered_at"] = .string(RFC3339.format(unixSeconds: atMs / 1000))
        return envelope("delivery.recovered", idParts: [delivery.id, String(delivery.attempt)], atMs: atMs, data: data)
    }

    /// `sink.paused`, `sink.resumed`, `sink.disabled` or `sink.enabled` (`transition` is the part
    /// after `sink.`) of `pipeline`/`sink`, which happened at `atMs`. `probeAtMs` is a paused
    /// sink's next probe; the optional parts go in only when known.
    public static func sinkState(
        pipeline: String, sink: String, transition: String, atMs: Int64, probeAtMs: Int64? = nil, failingSinceMs: Int64? = nil,
        consecutiveFailures: Int? = nil, reason: String? = nil
    ) -> EventEnvelope {
        var data = JSONObject()
        data["pipeline"] = .string(pipeline)
        data["sink"] = .string(sink)
        data["\(transition)_at"] = .string(RFC3339.format(unixSeconds: atMs / 1000))
        if let probeAtMs { data["probe_at"] = .string(RFC3339.format(unixSeconds: probeAtMs / 1000)) }
        if let failingSinceMs { data["failing_since"] = .string(RFC3339.format(unixSeconds: failingSinceMs / 1000)) }
        if let consecutiveFailures { data["consecutive_failures"] = .number(JSONNumber(Int64(consecutiveFailures))) }
        if let reason, !reason.isEmpty { data["reason"] = .string(reason) }
        return envelope("sink." + transition, idParts: [pipeline, sink, String(atMs)], atMs: atMs, data: data)
    }

    /// The pipeline whose delivery or sink `envelope` is about: it never receives it.
    public static func emitter(of envelope: EventEnvelope) -> String? {
        guard case .object(let object) = envelope.data, case .string(let pipeline)? = object["pipeline"] else { return nil }
        return pipeline
    }

    private static func describe(_ delivery: ClaimedDelivery, into data: inout JSONObject) {
        data["delivery_id"] = .string(delivery.id)
        data["pipeline"] = .string(delivery.pipeline)
        data["sink"] = .string(delivery.sink)
        data["event_id"] = .string(delivery.eventID)
        data["event_type"] = .string(delivery.eventType)
    }

    private static func envelope(_ type: String, idParts: [String], atMs: Int64, data: JSONObject) -> EventEnvelope {
        var input: [UInt8] = Array(type.utf8)
        for part in idParts {
            // NUL between parts: names cannot hold it, so the split is unambiguous.
            input.append(0)
            input += part.utf8
        }
        let digest = input.withUnsafeBytes { SHA256Digest.hash($0) }
        return EventEnvelope(
            eventID: "evt_op_" + Hex.encode(digest.prefix(16)), eventType: type,
            createdAt: RFC3339.format(unixSeconds: atMs / 1000), data: .object(data))
    }
}
