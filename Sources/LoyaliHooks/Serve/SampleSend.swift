import Foundation

/// The guide's "Test" button: sends the catalogue's realistic sample of one event type through a
/// pipeline's transform steps, signing and sinks right now, and reports each sink's answer.
/// Nothing is written to the delivery log. `loyali-hooks test` and `POST
/// /api/pipelines/{name}/test` both use it.
///
/// Sending blocks until every sink answered (up to each sink's timeout): call it from a dedicated
/// thread, never from Swift's cooperative pool.
public enum SampleSend {
    /// One sink's answer.
    public struct Result: Sendable {
        /// The sink's name.
        public var sink: String
        /// Its kind (`http`, `file`, …).
        public var kind: String
        /// Where it delivers.
        public var target: String
        /// The delivery id the sample carried.
        public var deliveryID: String
        /// How long the attempt took.
        public var durationMs: Int64
        /// What came back.
        public var outcome: AttemptResult

        /// `{"sink","target","delivery_id","duration_ms","ok", then http_status and response, or
        /// error_class and error}`: the shape of `test --json`.
        public var json: JSONObject {
            var object = JSONObject()
            object["sink"] = .string(sink)
            object["target"] = .string(target)
            object["delivery_id"] = .string(deliveryID)
            object["duration_ms"] = .number(JSONNumber(durationMs))
            object["ok"] = .bool(outcome.isSuccess)
            switch outcome {
            case .httpStatus(let status, _, let snippet):
                object["http_status"] = .number(JSONNumber(Int64(status)))
                object["response"] = .string(snippet)
            case .accepted:
                break
            case .failure(let failure):
                object["error_class"] = .string(failure.errorClass)
                object["error"] = .string(failure.message)
            }
            return object
        }
    }

    /// Why the sample could not be sent at all.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        /// One sentence.
        public var message: String
        public var description: String { message }
    }

    /// Sends the sample of `eventType` through `pipeline`, signing with unix time `timestamp`.
    public static func send(_ eventType: EventType, through pipeline: PipelineDefinition, timestamp: Int64) throws(Refusal) -> [Result] {
        var results: [Result] = []
        for (sink, request) in try requests(eventType, through: pipeline, timestamp: timestamp) {
            let started = Date()
            let outcome: AttemptResult
            if let concurrent = sink.sink as? any ConcurrentSink {
                outcome = HTTPSink.wait { done in concurrent.send(request, completion: done) }
            } else {
                do {
                    try sink.sink.deliver(request)
                    outcome = .accepted
                } catch {
                    outcome = .failure(error)
                }
            }
            results.append(Result(
                sink: sink.name, kind: sink.sink.kind, target: sink.sink.target, deliveryID: request.deliveryID,
                durationMs: Int64(Date().timeIntervalSince(started) * 1000), outcome: outcome))
        }
        return results
    }

    /// The signed request of the sample of `eventType` for each of `pipeline`'s sinks, as they
    /// would be sent at unix time `timestamp` (`forDisplay`: configured headers as written, their
    /// `${VAR}` values left out). Sends nothing.
    public static func requests(
        _ eventType: EventType, through pipeline: PipelineDefinition, timestamp: Int64, forDisplay: Bool = false
    ) throws(Refusal) -> [(SinkDefinition, DeliveryRequest)] {
        let line = Array(SampleSource.sampleLine(for: eventType).utf8)
        let envelope: EventEnvelope
        do {
            envelope = try line.withUnsafeBufferPointer { buffer throws(InputRejection) in
                try InputEventDecoder(ingestTime: RFC3339.format(unixSeconds: timestamp)).decode(buffer, number: 1)
            }
        } catch {
            throw Refusal(message: "sample event is invalid: \(error)")
        }
        guard pipeline.filter.accepts(eventType.name) else {
            throw Refusal(
                message: "pipeline '\(pipeline.name)' does not subscribe to \(eventType.name); its filter accepts: "
                    + pipeline.filter.acceptedTypes.joined(separator: ", "))
        }
        if let condition = pipeline.filter.condition, !condition.matches(envelope) {
            throw Refusal(message: "the sample of \(eventType.name) does not meet pipeline '\(pipeline.name)''s filter.where: \(condition.source)")
        }
        let planner = DeliveryPlanner(pipeline: pipeline)
        guard case .deliver(let transformed, let encoder) = planner.plan(envelope) else {
            throw Refusal(message: "pipeline '\(pipeline.name)' dropped or failed the sample in its transform steps")
        }
        return pipeline.sinks.map { sink in
            (sink, planner.request(for: sink, envelope: transformed, encoder: encoder, attempt: 1, timestamp: timestamp, forDisplay: forDisplay))
        }
    }
}
