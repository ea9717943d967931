/// Turns one event into the signed ``DeliveryRequest``s of one pipeline: filter, transform steps,
/// envelope, delivery ids, headers and signatures.
///
/// Signing happens here, at send time, so each attempt carries a fresh timestamp.
public struct DeliveryPlanner: Sendable {
    /// The pipeline planned for.
    public let pipeline: PipelineDefinition

    public init(pipeline: PipelineDefinition) { self.pipeline = pipeline }

    /// The outcome of planning one event.
    public enum Plan: Sendable {
        /// The filter does not take this event: its type is not subscribed to, or `filter.where`
        /// is false for it.
        case notSubscribed
        /// A transform step dropped the event.
        case dropped(step: String)
        /// A transform step failed; no delivery is made for this pipeline.
        case failed(TransformFailure)
        /// The event after transforms, ready to be signed per sink.
        case deliver(EventEnvelope, EnvelopeEncoder)
    }

    /// Runs the filter (event type, then `where`) and the transform steps over `envelope`.
    public func plan(_ envelope: EventEnvelope) -> Plan {
        guard pipeline.filter.accepts(envelope) else { return .notSubscribed }
        var envelope = envelope
        for step in pipeline.steps {
            do {
                if try step.apply(to: &envelope) == .drop { return .dropped(step: step.name) }
            } catch {
                return .failed(error)
            }
        }
        return .deliver(envelope, EnvelopeEncoder(envelope))
    }

    /// Runs filter and transform steps over a batch of events; the result has one plan per
    /// envelope, in order, exactly as ``plan(_:)`` would give.
    ///
    /// Each step sees every event still alive at its position: a ``BatchTransformStep`` (a
    /// plugin) gets them all in one call, so it can pipeline them; other steps are applied one
    /// event at a time.
    public func plan(batch envelopes: [EventEnvelope]) -> [Plan] {
        var plans = [Plan](repeating: .notSubscribed, count: envelopes.count)
        var working: [EventEnvelope] = []
        var positions: [Int] = []
        working.reserveCapacity(envelopes.count)
        positions.reserveCapacity(envelopes.count)
        for (index, envelope) in envelopes.enumerated() where pipeline.filter.accepts(envelope) {
            working.append(envelope)
            positions.append(index)
        }
        for step in pipeline.steps where !working.isEmpty {
            let outcomes = (step as? any BatchTransformStep)?.apply(batch: &working) ?? step.applyEach(&working)
            var kept = 0
            for (index, outcome) in outcomes.enumerated() {
                switch outcome {
                case .success(.keep):
                    if kept != index {
                        working.swapAt(kept, index)
                        positions[kept] = positions[index]
                    }
                    kept += 1
                case .success(.drop):
                    plans[positions[index]] = .dropped(step: step.name)
                case .failure(let failure):
                    plans[positions[index]] = .failed(failure)
                }
            }
            working.removeLast(working.count - kept)
            positions.removeLast(positions.count - kept)
        }
        for (envelope, position) in zip(working, positions) {
            plans[position] = .deliver(envelope, EnvelopeEncoder(envelope))
        }
        return plans
    }

    /// The signed request for `sink`, for attempt number `attempt` sent at `timestamp`.
    ///
    /// With `forDisplay`, configured headers carry their values as written (`${TOKEN}`) instead of
    /// the expanded secret, for dry-run output and logs.
    public func request(
        for sink: SinkDefinition, envelope: EventEnvelope, encoder: EnvelopeEncoder, attempt: Int, timestamp: Int64,
        forDisplay: Bool = false
    ) -> DeliveryRequest {
        let deliveryID = DeliveryID.make(eventID: envelope.eventID, pipeline: pipeline.name, sink: sink.name)
        return signedRequest(
            for: sink, deliveryID: deliveryID, eventID: envelope.eventID, eventType: envelope.eventType,
            body: encoder.body(deliveryID: deliveryID), attempt: attempt, timestamp: timestamp, forDisplay: forDisplay)
    }

    /// Signs an already-built body; the durable runner calls this for each attempt of a stored
    /// delivery, so every retry carries a fresh timestamp.
    public func signedRequest(
        for sink: SinkDefinition, deliveryID: String, eventID: String, eventType: String, body: [UInt8], attempt: Int,
        timestamp: Int64, forDisplay: Bool = false
    ) -> DeliveryRequest {
        var headers: [HTTPHeader] = [
            HTTPHeader(name: "Content-Type", value: "application/json"),
            HTTPHeader(name: "User-Agent", value: LoyaliHooksVersion.userAgent),
            HTTPHeader(name: "X-Loyali-Event", value: eventType),
            HTTPHeader(name: "X-Loyali-Delivery", value: deliveryID),
            HTTPHeader(name: "X-Loyali-Attempt", value: String(attempt)),
        ]
        if let signing = pipeline.signing {
            headers += body.withUnsafeBytes {
                signing.scheme.signatureHeaders(body: $0, deliveryID: deliveryID, timestamp: timestamp)
            }
        }
        for header in sink.sink.configuredHeaders {
            headers.append(HTTPHeader(name: header.name, value: forDisplay ? header.displayValue : header.value))
        }
        return DeliveryRequest(
            pipeline: pipeline.name, sink: sink.name, deliveryID: deliveryID, eventID: eventID,
            eventType: eventType, attempt: attempt, headers: headers, body: body)
    }
}
