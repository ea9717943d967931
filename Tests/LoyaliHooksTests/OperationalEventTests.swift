import Foundation
import Testing
@testable import LoyaliHooks

/// Operational pipeline files in a temporary folder, loaded together as `validate` loads them.
private struct OperationalFolder {
    let path = NSTemporaryDirectory() + "loyali-operational-\(UUID().uuidString)"

    /// Writes `name`.yaml: an operational pipeline with a stdout sink, taking `events` where
    /// `condition` holds.
    func write(_ name: String, events: String = "[delivery.failed]", where condition: String? = nil) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let text = """
            pipeline: \(name)
            source: { type: operational }
            filter:
              events: \(events)
            \(condition.map { "  where: '\($0)'" } ?? "")
            sinks:
              out: { type: stdout }

            """
        try text.write(toFile: "\(path)/\(name).yaml", atomically: true, encoding: .utf8)
    }

    func load() -> PipelineLoader.Result {
        PipelineLoader(environment: [:], registry: .builtIn).load(paths: [path])
    }
}

@Suite("Operational events")
struct OperationalEventTests {
    @Test("two operational pipelines taking each other's failures are a loop, refused at path:line:col")
    func twoPipelineLoopIsRefused() throws {
        let folder = OperationalFolder()
        try folder.write("alerts-a")
        try folder.write("alerts-b")
        let result = folder.load()
        #expect(result.pipelines.isEmpty)
        let errors = result.diagnostics.filter { $0.severity == .error }
        try #require(errors.count == 1, "\(result.diagnostics.map(\.headline))")
        #expect(errors[0].location == SourceLocation(path: "\(folder.path)/alerts-a.yaml", line: 2, column: 17))
        #expect(errors[0].message.contains("alerts-a → alerts-b → alerts-a"))
    }

    @Test("a three-pipeline circle is refused; the where that breaks it is accepted")
    func longerLoopAndTheWhereThatBreaksIt() throws {
        let folder = OperationalFolder()
        try folder.write("a", events: #"["*"]"#, where: #"data.pipeline == "c""#)
        try folder.write("b", events: "[delivery.failed, sink.paused]", where: #"data.pipeline in ["a"]"#)
        try folder.write("c", events: #"["sink.*"]"#, where: #"data.pipeline == "b" and data.sink != "x""#)
        let looped = folder.load()
        #expect(looped.pipelines.isEmpty)
        #expect(looped.diagnostics.filter { $0.severity == .error }.map(\.message).contains { $0.contains("a → b → c → a") })
        // c no longer takes b's events: no circle.
        try folder.write("c", events: #"["sink.*"]"#, where: #"not (data.pipeline in ["b"]) and data.pipeline != "a""#)
        #expect(folder.load().pipelines.count == 3)
    }

    @Test("operational pipelines that do not feed each other load: types, where and a single pipeline")
    func noLoop() throws {
        let folder = OperationalFolder()
        try folder.write("pager", events: "[sink.disabled]", where: #"data.pipeline != "slack""#)
        try folder.write("slack", events: "[delivery.failed, sink.disabled]")
        try folder.write("audit", events: "[points.earned]")
        let result = folder.load()
        #expect(result.diagnostics.filter { $0.severity == .error }.isEmpty, "\(result.diagnostics.map(\.headline))")
        #expect(result.pipelines.count == 3)
    }

    @Test("operational event ids derive from what they are about, so emitting one again dedupes")
    func deterministicIDs() {
        let delivery = ClaimedDelivery(
            id: "whd_1", pipeline: "notifications", sink: "slack", eventID: "evt_1", eventType: "points.earned", body: [],
            attempt: 5, schedule: [0, 1_000], scheduleOffset: 3)
        let record = AttemptRecord(
            deliveryID: "whd_1", attempt: 5, startedAtMs: 0, durationMs: 12, httpStatus: 503, errorClass: "http_5xx",
            errorMessage: nil, responseSnippet: nil, outcome: .failed)
        let first = OperationalEvent.deliveryFailed(delivery, record: record, reason: "no attempts left", atMs: 1_700_000_000_000)
        let again = OperationalEvent.deliveryFailed(delivery, record: record, reason: "no attempts left", atMs: 1_700_000_009_000)
        #expect(first.eventID == again.eventID)
        #expect(first.eventID.hasPrefix("evt_op_"))
        var resent = delivery
        resent.attempt = 7
        #expect(OperationalEvent.deliveryFailed(resent, record: record, reason: "", atMs: 0).eventID != first.eventID)
        #expect(OperationalEvent.deliveryRecovered(delivery, record: record, atMs: 0).eventID != first.eventID)
        #expect(first.eventType == "delivery.failed")
        #expect(OperationalEvent.emitter(of: first) == "notifications")
        let data = first.data.objectValue
        #expect(data?["delivery_id"] == .string("whd_1"))
        #expect(data?["attempts"] == .number(JSONNumber(5)))
        #expect(data?["error_class"] == .string("http_5xx"))
        #expect(data?["error"] == .string("no attempts left"))
        #expect(data?["http_status"] == .number(JSONNumber(503)))
        #expect(data?["event_id"] == .string("evt_1") && data?["event_type"] == .string("points.earned"))

        let paused = { OperationalEvent.sinkState(pipeline: "p", sink: "s", transition: "paused", atMs: 1_700_000_000_000, probeAtMs: 1_700_000_030_000) }
        let event = paused()
        #expect(event.eventType == "sink.paused")
        #expect(event.data.objectValue?["paused_at"] == .string("2023-11-14T22:13:20Z"))
        #expect(event.data.objectValue?["probe_at"] == .string("2023-11-14T22:13:50Z"))
        #expect(event.eventID == paused().eventID)
    }
}
