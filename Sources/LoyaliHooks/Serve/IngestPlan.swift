/// One ingest request's body turned into outbox rows: each line decoded against the input contract,
/// the good events planned through every subscribed pipeline, the bad lines kept with their reason.
public struct IngestPlan: Sendable {
    /// An accepted event and the deliveries it made.
    public struct Event: Sendable {
        /// 1-based line in the body (always 1 for `application/json`).
        public var line: Int
        /// The event id, given or derived from the line.
        public var eventID: String
        /// The event type.
        public var eventType: String
        /// Indices into ``rows`` of this event's deliveries.
        public var rows: Range<Int>
    }

    /// Accepted events, in body order.
    public var events: [Event] = []
    /// Rejected lines, in body order.
    public var rejections: [InputRejection] = []
    /// The outbox rows of every accepted event.
    public var rows: [NewDelivery] = []
    /// Transform failures (the event is accepted; the failing pipeline makes no delivery).
    public var transformFailures: [(pipeline: String, eventID: String, failure: TransformFailure)] = []

    /// How the body is split.
    public enum Format: Sendable {
        /// `application/json`: the whole body is one event.
        case single
        /// `application/x-ndjson`: one event per line; blank lines are skipped.
        case lines
    }

    /// Decodes `body` and plans each good event through `planners`.
    public init(body: [UInt8], format: Format, decoder: InputEventDecoder, planners: [DeliveryPlanner], createdAtMs: Int64) {
        body.withUnsafeBufferPointer { whole in
            // A byte-order mark opening the body is an encoding marker, not part of the first event.
            let all = UnsafeBufferPointer(rebasing: whole[(whole.starts(with: LineReader.byteOrderMark) ? 3 : 0)...])
            switch format {
            case .single:
                // Surrounding whitespace is not part of the event: the same event posted as JSON or
                // as an NDJSON line derives the same id (when it has none) and dedupes.
                var start = 0
                var end = all.count
                while start < end, Self.isSpace(all[start]) { start += 1 }
                while end > start, Self.isSpace(all[end - 1]) { end -= 1 }
                if start == end {
                    rejections.append(InputRejection(line: 1, reason: "the body is empty; expected one JSON event"))
                } else {
                    let before = rejections.count
                    add(UnsafeBufferPointer(rebasing: all[start..<end]), number: 1, decoder: decoder, planners: planners, createdAtMs: createdAtMs)
                    if rejections.count > before, rejections[before].column != nil {
                        rejections[before] = Self.locatingSyntaxError(rejections[before], in: all, event: start..<end)
                    }
                }
            case .lines:
                var start = 0
                var number = 0
                while start <= all.count {
                    var end = start
                    while end < all.count, all[end] != 0x0A { end += 1 }
                    number += 1
                    var stop = end
                    if stop > start, all[stop - 1] == 0x0D { stop -= 1 }
                    let line = UnsafeBufferPointer(rebasing: all[start..<stop])
                    if !Self.isBlank(line) {
                        add(line, number: number, decoder: decoder, planners: planners, createdAtMs: createdAtMs)
                    }
                    start = end + 1
                }
                if events.isEmpty, rejections.isEmpty {
                    rejections.append(InputRejection(line: 1, reason: "the body holds no events; expected one JSON event per line"))
                }
            }
        }
    }

    private mutating func add(
        _ line: UnsafeBufferPointer<UInt8>, number: Int, decoder: InputEventDecoder, planners: [DeliveryPlanner], createdAtMs: Int64
    ) {
        let envelope: EventEnvelope
        do throws(InputRejection) {
            envelope = try decoder.decode(line, number: number)
        } catch {
            rejections.append(error)
            return
        }
        let first = rows.count
        var failures: [(pipeline: String, eventID: String, failure: TransformFailure)] = []
        DeliveryRunner.appendDeliveries(for: envelope, planners: planners, createdAtMs: createdAtMs, to: &rows) { planner, failure in
            failures.append((planner.pipeline.name, envelope.eventID, failure))
        }
        transformFailures += failures
        events.append(Event(line: number, eventID: envelope.eventID, eventType: envelope.eventType, rows: first..<rows.count))
    }

    /// A JSON syntax error in a one-event body, placed at its line and column in the whole body
    /// (the decoder sees the body as line 1). Values on lines of their own after the first are
    /// an NDJSON batch sent as `application/json`: said so, pointing at the end of the first.
    /// Runs only once the body was rejected, so accepted bodies are parsed once.
    private static func locatingSyntaxError(_ rejection: InputRejection, in body: UnsafeBufferPointer<UInt8>, event: Range<Int>) -> InputRejection {
        let error: JSONParseError
        do {
            _ = try JSONParser.parse(UnsafeBufferPointer(rebasing: body[event]))
            return rejection
        } catch let caught {
            error = caught
        }
        let offset = event.lowerBound + error.offset
        var valueEnd = offset
        while valueEnd > event.lowerBound, isSpace(body[valueEnd - 1]) { valueEnd -= 1 }
        let firstValue = UnsafeBufferPointer(rebasing: body[event.lowerBound..<valueEnd])
        if valueEnd > event.lowerBound, body[valueEnd..<offset].contains(0x0A), (try? JSONParser.parse(firstValue)) != nil {
            var lines = 0
            var lineStart = event.lowerBound
            for index in event.lowerBound...event.upperBound where index == event.upperBound || body[index] == 0x0A {
                if !isBlank(UnsafeBufferPointer(rebasing: body[lineStart..<index])) { lines += 1 }
                lineStart = index + 1
            }
            let end = JSONParseError(offset: valueEnd - 1, in: body, reason: "")
            return InputRejection(
                line: end.line, column: end.column,
                reason: "the first JSON value ends here, but the body holds \(lines) JSON lines; "
                    + "application/json carries one event: send a batch with Content-Type: application/x-ndjson")
        }
        let located = JSONParseError(offset: offset, in: body, reason: error.reason)
        return InputRejection(line: located.line, column: located.column, reason: rejection.reason)
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }

    private static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool { bytes.allSatisfy(isSpace) }

    /// The runner counters this request adds.
    public var counters: DeliveryRunner.Counters {
        var counters = DeliveryRunner.Counters()
        counters.eventsRead = events.count + rejections.count
        counters.rejected = rejections.count
        counters.transformFailures = transformFailures.count
        counters.failedByTransforms = rows.reduce(0) { $0 + ($1.planningFailure == nil ? 0 : 1) }
        counters.failed = counters.failedByTransforms
        return counters
    }

    /// The response body: accepted events with their delivery ids, and rejected lines with their
    /// reasons. With rejections it also carries the `error` and `message` of every error body.
    public func responseObject() -> JSONObject {
        var object = JSONObject()
        if !rejections.isEmpty {
            object["error"] = .string("invalid_events")
            let total = events.count + rejections.count
            object["message"] = .string(
                events.isEmpty
                    ? "\(rejections.count) of \(Plural.count(total, "event")) rejected; nothing was accepted"
                    : "\(rejections.count) of \(Plural.count(total, "event")) rejected; the other \(events.count) \(events.count == 1 ? "was" : "were") accepted and \(events.count == 1 ? "is" : "are") durable")
        }
        object["accepted"] = .array(events.map { event in
            var item = JSONObject()
            item["line"] = .number(JSONNumber(Int64(event.line)))
            item["id"] = .string(event.eventID)
            item["event_type"] = .string(event.eventType)
            item["deliveries"] = .array(rows[event.rows].map { row in
                .object(JSONObject(["pipeline": .string(row.pipeline), "sink": .string(row.sink), "id": .string(row.id)]))
            })
            return .object(item)
        })
        object["rejected"] = .array(rejections.map { rejection in
            var item = JSONObject()
            item["line"] = .number(JSONNumber(Int64(rejection.line)))
            item["column"] = rejection.column.map { .number(JSONNumber(Int64($0))) } ?? .null
            item["reason"] = .string(rejection.reason)
            return .object(item)
        })
        return object
    }
}
