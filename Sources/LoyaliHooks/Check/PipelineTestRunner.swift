/// Runs pipeline tests offline through the dry run's own planning: the input decoder, each
/// pipeline's filter and transform steps (transform plugins included, as in a dry run), and the
/// signed requests ``DeliveryPlanner`` builds. Nothing is sent: sinks are never called.
///
/// Every test signs with ``testSecret`` at ``timestamp``, whatever the environment holds, so
/// deliveries (delivery ids, `webhook-timestamp`, events without `created_at`) are the same on
/// every machine.
public struct PipelineTestRunner: Sendable {
    /// The secret every test signs with, in place of the pipeline's own: `whsec_` base64, so it
    /// serves both signature schemes.
    public static let testSecret = WebhookSecret("whsec_bG95YWxpLWhvb2tzLWNoZWNrLXRlc3Qtc2VjcmV0")
    /// The unix time every test signs at: 2023-11-14T22:13:20Z, also the `created_at` of an
    /// input event that has none.
    public static let timestamp: Int64 = 1_700_000_000

    /// Signature headers: compared by presence only, since their value depends on the key.
    static let signatureHeaders: Set<String> = [
        LoyaliSignatureScheme.headerName.lowercased(), StandardWebhooksScheme.signatureHeaderName.lowercased(),
    ]

    /// The pipelines tests may name.
    public let pipelines: [PipelineDefinition]

    public init(pipelines: [PipelineDefinition]) { self.pipelines = pipelines }

    /// One problem a test found.
    public struct Failure: Sendable {
        /// Where the expectation that failed is written.
        public var location: SourceLocation
        /// What went wrong, in one sentence.
        public var message: String
        /// Expected and actual bodies, pretty-printed, when a body differs.
        public var expected: String?
        public var actual: String?
        /// A line diff of `expected` against `actual`.
        public var diff: String?
    }

    /// A test's outcome.
    public struct Result: Sendable {
        public var test: PipelineTestCase
        /// Empty when the test passed.
        public var failures: [Failure]
        public var passed: Bool { failures.isEmpty }
    }

    /// What the pipeline did with the test's events: the requests per sink, and each transform
    /// failure with the event it came from.
    struct Outcome {
        var deliveries: [String: [DeliveryRequest]] = [:]
        var transformFailures: [(failure: TransformFailure, event: PipelineTestCase.Event)] = []
    }

    /// Runs `test`.
    public func run(_ test: PipelineTestCase) -> Result {
        guard let original = pipelines.first(where: { $0.name == test.pipeline }) else {
            let names = pipelines.map(\.name)
            return Result(test: test, failures: [Failure(
                location: test.location,
                message: "no pipeline named '\(test.pipeline)'\(Suggestion.didYouMean(test.pipeline, in: names)); loaded: \(names.joined(separator: ", "))")])
        }
        let pipeline = Self.signingWithTestSecret(original)
        var failures: [Failure] = []
        let outcome = deliveries(of: test, through: pipeline, failures: &failures)
        checkFailures(test, outcome: outcome, into: &failures)
        for expectation in test.sinks {
            guard pipeline.sinks.contains(where: { $0.name == expectation.sink }) else {
                let names = pipeline.sinks.map(\.name)
                failures.append(Failure(
                    location: expectation.location,
                    message: "pipeline '\(pipeline.name)' has no sink '\(expectation.sink)'\(Suggestion.didYouMean(expectation.sink, in: names)); its sinks: \(pipeline.sinkList)"))
                continue
            }
            check(expectation, actual: outcome.deliveries[expectation.sink] ?? [], into: &failures)
        }
        return Result(test: test, failures: failures)
    }

    /// `pipeline` signing with ``testSecret`` under its own scheme.
    static func signingWithTestSecret(_ pipeline: PipelineDefinition) -> PipelineDefinition {
        guard let signing = pipeline.signing, let scheme = try? SignatureSchemes.make(name: signing.schemeName, secrets: [testSecret]) else {
            return pipeline
        }
        return PipelineDefinition(
            name: pipeline.name, description: pipeline.description, file: pipeline.file, source: pipeline.source,
            filter: pipeline.filter, steps: pipeline.steps,
            signing: PipelineSigning(schemeName: signing.schemeName, scheme: scheme, secretCount: 1), sinks: pipeline.sinks)
    }

    /// Decodes the events and plans them as a dry run does.
    private func deliveries(of test: PipelineTestCase, through pipeline: PipelineDefinition, failures: inout [Failure]) -> Outcome {
        let decoder = InputEventDecoder(ingestTime: RFC3339.format(unixSeconds: Self.timestamp))
        var envelopes: [EventEnvelope] = []
        var sources: [PipelineTestCase.Event] = []
        for (index, event) in test.events.enumerated() {
            do throws(InputRejection) {
                envelopes.append(try event.line.withUnsafeBufferPointer { (bytes) throws(InputRejection) in try decoder.decode(bytes, number: index + 1) })
                sources.append(event)
            } catch {
                failures.append(Failure(location: event.location, message: "input event \(index + 1) is rejected: \(error.reasonWithColumn)"))
            }
        }
        let planner = DeliveryPlanner(pipeline: pipeline)
        var outcome = Outcome()
        for (plan, event) in zip(planner.plan(batch: envelopes), sources) {
            switch plan {
            case .notSubscribed, .dropped:
                continue
            case .failed(let failure):
                outcome.transformFailures.append((failure, event))
            case .deliver(let envelope, let encoder):
                for sink in pipeline.sinks {
                    let request = planner.request(
                        for: sink, envelope: envelope, encoder: encoder, attempt: 1, timestamp: Self.timestamp, forDisplay: true)
                    outcome.deliveries[sink.name, default: []].append(request)
                }
            }
        }
        return outcome
    }

    /// `expect_failure` must match a transform failure; any other failure fails the test.
    private func checkFailures(_ test: PipelineTestCase, outcome: Outcome, into failures: inout [Failure]) {
        var matched = false
        for (failure, event) in outcome.transformFailures {
            if let expected = test.expectedFailure, failure.description.contains(expected.reason) {
                matched = true
                continue
            }
            let wanted = test.expectedFailure.map { " (expect_failure wants '\($0.reason)')" } ?? ""
            failures.append(Failure(location: event.location, message: "this event's \(failure)\(wanted)"))
        }
        if let expected = test.expectedFailure, !matched, outcome.transformFailures.isEmpty {
            failures.append(Failure(
                location: expected.location, message: "expected a transform step to fail with '\(expected.reason)', but every event passed the transform steps"))
        }
    }

    /// Compares one sink's deliveries with its expectation, in order.
    private func check(_ expectation: PipelineTestCase.SinkExpectation, actual: [DeliveryRequest], into failures: inout [Failure]) {
        let sink = expectation.sink
        if expectation.deliveries.isEmpty {
            if !actual.isEmpty {
                failures.append(Failure(
                    location: expectation.location,
                    message: "sink '\(sink)': expected no delivery, got \(Plural.count(actual.count, "delivery", "deliveries")): "
                        + actual.map { "\($0.eventType) (\($0.eventID))" }.joined(separator: ", "),
                    actual: actual.map(Self.prettyBody).joined(separator: "\n")))
            }
            return
        }
        if actual.count != expectation.deliveries.count {
            failures.append(Failure(
                location: expectation.location,
                message: "sink '\(sink)': expected \(Plural.count(expectation.deliveries.count, "delivery", "deliveries")), got \(actual.count)"
                    + (actual.isEmpty ? "" : ": " + actual.map { "\($0.eventType) (\($0.eventID))" }.joined(separator: ", "))))
        }
        for (index, (expected, request)) in zip(expectation.deliveries, actual).enumerated() {
            let what = "sink '\(sink)', delivery \(index + 1) (\(request.eventType), event \(request.eventID))"
            check(expected, request: request, what: what, into: &failures)
        }
    }

    private func check(_ expected: PipelineTestCase.ExpectedDelivery, request: DeliveryRequest, what: String, into failures: inout [Failure]) {
        let body: JSONValue
        do {
            body = try JSONParser.parse(request.body)
        } catch {
            failures.append(Failure(location: expected.location, message: "\(what): the body is not JSON: \(error)"))
            return
        }
        let wanted: JSONValue?
        let label: String
        if let whole = expected.body {
            wanted = JSONComparison.equal(whole, body) ? nil : whole
            label = "body differs"
        } else if !expected.fields.members.isEmpty {
            wanted = JSONComparison.contains(body, .object(expected.fields)) ? nil : JSONComparison.overlay(.object(expected.fields), on: body)
            label = "body does not match the expected " + expected.fields.keys.joined(separator: ", ")
        } else {
            wanted = nil
            label = ""
        }
        if let wanted {
            let expectedText = wanted.prettyPrinted()
            let actualText = body.prettyPrinted()
            failures.append(Failure(
                location: expected.location, message: "\(what): \(label)", expected: expectedText, actual: actualText,
                diff: JSONComparison.lineDiff(expected: expectedText, actual: actualText)))
        }
        for header in expected.headers {
            let sent = request.headers.first { $0.name.lowercased() == header.name.lowercased() }
            guard let sent else {
                failures.append(Failure(
                    location: header.location,
                    message: "\(what): header \(header.name) was not sent; sent: \(request.headers.map(\.name).joined(separator: ", "))"))
                continue
            }
            if !Self.signatureHeaders.contains(header.name.lowercased()), sent.value != header.value {
                failures.append(Failure(
                    location: header.location,
                    message: "\(what): header \(header.name): expected '\(header.value)', got '\(sent.value)'"))
            }
        }
    }

    private static func prettyBody(_ request: DeliveryRequest) -> String {
        (try? JSONParser.parse(request.body))?.prettyPrinted() ?? String(decoding: request.body, as: UTF8.self)
    }
}
