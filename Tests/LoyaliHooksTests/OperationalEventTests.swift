import Foundation
import Synchronization
import Testing
@testable import LoyaliHooks

/// Operational pipeline files in a temporary folder, loaded together as `validate` loads them.
private struct OperationalFolder {
    /// Removed with the last copy of the folder, so test runs leave nothing in the temp directory.
    private let temporary: TemporaryDirectory
    var path: String { temporary.url.path }

    init() throws { temporary = try TemporaryDirectory() }

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
        let folder = try OperationalFolder()
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
        let folder = try OperationalFolder()
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
        let folder = try OperationalFolder()
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

extension RunnerHarness {
    /// Several pipeline files at once, with scripted sinks.
    func pipelines(_ yamls: [String], sinks: [String: ScriptedSink]) throws -> [PipelineDefinition] {
        try yamls.flatMap { try pipelines($0, sinks: sinks) }
    }
}

/// A source pipeline with a dead sink and a flaky one, and an operational pipeline paging on
/// both: what the durable runner emits.
@Suite("Operational events from the runner", .serialized)
struct OperationalRunnerTests {
    static let event = #"{"id":"evt_1","event_type":"points.earned","data":{"customer_id":"cust_abc123","amount":150}}"#
    static let shop = """
        pipeline: shop
        source: { type: file, path: "${EVENTS}" }
        sign: { secrets: ["${SECRET}"] }
        sinks:
          dead: { type: scripted, name: dead, retry: { schedule: [0s, 0s] } }
          flaky: { type: scripted, name: flaky, retry: { schedule: [0s, 0s] } }
          fine: { type: scripted, name: fine }
        """
    static let alerts = """
        pipeline: alerts
        source: { type: operational }
        filter: { events: [delivery.failed, delivery.recovered] }
        sign: { secrets: ["${SECRET}"] }
        sinks:
          pager: { type: scripted, name: pager, retry: { schedule: [0s] } }
        """

    static func bodies(_ sink: ScriptedSink) throws -> [JSONObject] {
        try sink.requests.withLock { $0 }.map { try #require(try JSONParser.parse($0.body).objectValue) }
    }

    @Test("a delivery that used up its attempts and one that recovered each reach the operational pipeline once, signed")
    func failedAndRecovered() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let dead = ScriptedSink { _ in .httpStatus(500, retryAfter: nil, snippet: "down") }
        let flaky = ScriptedSink { attempt in attempt == 1 ? .httpStatus(503, retryAfter: nil, snippet: "") : .httpStatus(200, retryAfter: nil, snippet: "") }
        let fine = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let pager = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let pipelines = try harness.pipelines([Self.shop, Self.alerts], sinks: ["dead": dead, "flaky": flaky, "fine": fine, "pager": pager])
        let (_, done, result) = harness.start(pipelines)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 10)), "the drain did not end")
        #expect(dead.count == 2 && flaky.count == 2 && fine.count == 1)
        let requests = pager.requests.withLock { $0 }
        let bodies = try Self.bodies(pager)
        #expect(bodies.compactMap { $0["event_type"]?.stringValue }.sorted() == ["delivery.failed", "delivery.recovered"])
        let failed = try #require(bodies.first { $0["event_type"]?.stringValue == "delivery.failed" }?["data"]?.objectValue)
        let deadID = dead.requests.withLock { $0[0].deliveryID }
        #expect(failed["delivery_id"]?.stringValue == deadID)
        #expect(failed["pipeline"]?.stringValue == "shop" && failed["sink"]?.stringValue == "dead")
        #expect(failed["attempts"] == .number(JSONNumber(2)))
        #expect(failed["error_class"]?.stringValue == "http_5xx" && failed["http_status"] == .number(JSONNumber(500)))
        #expect(failed["event_id"]?.stringValue == "evt_1" && failed["event_type"]?.stringValue == "points.earned")
        let recovered = try #require(bodies.first { $0["event_type"]?.stringValue == "delivery.recovered" }?["data"]?.objectValue)
        #expect(recovered["sink"]?.stringValue == "flaky" && recovered["attempts"] == .number(JSONNumber(2)))
        // Signed like any delivery, with ids a receiver can dedupe on.
        for request in requests {
            let header = try #require(request.headers.first { $0.name == "X-Loyali-Signature" }?.value)
            let verifier = LoyaliSignatureVerifier(secrets: [WebhookSecret("whsec_runner_test")])
            #expect(throws: Never.self) { try verifier.verify(header: header, body: request.body, now: 1_700_000_000) }
            #expect(request.deliveryID == DeliveryID.make(eventID: request.eventID, pipeline: "alerts", sink: "pager"))
            #expect(request.eventID.hasPrefix("evt_op_"))
        }
        #expect(Set(requests.map(\.deliveryID)).count == 2)
        #expect(result.withLock { $0 }?.delivered == 4)
    }

    @Test("a failed delivery of the operational pipeline never comes back to it, and the drain still ends")
    func noLoopBack() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let dead = ScriptedSink { _ in .httpStatus(500, retryAfter: nil, snippet: "down") }
        let ok = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let pager = ScriptedSink { _ in .httpStatus(500, retryAfter: nil, snippet: "pager down too") }
        let pipelines = try harness.pipelines([Self.shop, Self.alerts], sinks: ["dead": dead, "flaky": ok, "fine": ok, "pager": pager])
        let (_, done, _) = harness.start(pipelines)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 10)), "the drain did not end")
        #expect(pager.count == 1, "the pager's own failure came back to it")
        let failed = try harness.store.list(DeliveryQuery()).filter { $0.status == .failed }
        #expect(Set(failed.map(\.pipeline)) == ["shop", "alerts"])
    }

    @Test("the same operational event stored twice is one delivery per subscription")
    func storedTwiceIsOnce() throws {
        let harness = try RunnerHarness(events: [])
        let pager = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let pipelines = try harness.pipelines([Self.alerts], sinks: ["pager": pager])
        let runner = DeliveryRunner(
            pipelines: pipelines, store: harness.store, clock: harness.clock, options: DeliveryRunner.Options(),
            logger: Logger(format: .logfmt) { _ in })
        let delivery = ClaimedDelivery(
            id: "whd_x", pipeline: "shop", sink: "dead", eventID: "evt_1", eventType: "points.earned", body: [], attempt: 3,
            schedule: [0], scheduleOffset: 0)
        let record = AttemptRecord(
            deliveryID: "whd_x", attempt: 3, startedAtMs: 0, durationMs: 1, httpStatus: 500, errorClass: "http_5xx",
            errorMessage: nil, responseSnippet: nil, outcome: .failed)
        // Judged again after a crash: a later time, the same event.
        try runner.storeOperational([OperationalEvent.deliveryFailed(delivery, record: record, reason: "x", atMs: 1_000)])
        try runner.storeOperational([OperationalEvent.deliveryFailed(delivery, record: record, reason: "x", atMs: 9_000)])
        // About the alerts pipeline itself: not for it.
        var own = delivery
        own.pipeline = "alerts"
        try runner.storeOperational([OperationalEvent.deliveryFailed(own, record: record, reason: "x", atMs: 1_000)])
        let rows = try harness.store.list(DeliveryQuery())
        #expect(rows.count == 1)
        #expect(rows.first?.pipeline == "alerts" && rows.first?.eventType == "delivery.failed")
    }
}

extension OperationalRunnerTests {
    @Test("a sink that pauses is announced once as sink.paused to the operational pipeline")
    func sinkPaused() throws {
        let events = (1...4).map { #"{"id":"evt_p\#($0)","event_type":"points.earned","data":{"amount":\#($0)}}"# }
        let harness = try RunnerHarness(events: events)
        let dead = ScriptedSink { _ in .httpStatus(503, retryAfter: nil, snippet: "down") }
        let pager = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let shop = """
            pipeline: shop
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              dead: { type: scripted, name: dead, retry: { schedule: [0s, 1h] }, pause: { after: 2, probe: 1h } }
            """
        let alerts = Self.alerts.replacingOccurrences(of: "[delivery.failed, delivery.recovered]", with: "[\"sink.*\"]")
        let pipelines = try harness.pipelines([shop, alerts], sinks: ["dead": dead, "pager": pager])
        let (runner, done, _) = harness.start(pipelines, mode: .follow)
        let paused = { (try? Self.bodies(pager))?.first { $0["event_type"]?.stringValue == "sink.paused" } }
        let deadline = Date(timeIntervalSinceNow: 10)
        while paused() == nil, Date() < deadline { _ = pager.waitFor(pager.count + 1, seconds: 0.05) }
        runner.requestStop()
        #expect(done.wait(until: Date(timeIntervalSinceNow: 10)))
        let event = try #require(paused(), "no sink.paused reached the operational pipeline")
        let data = try #require(event["data"]?.objectValue)
        #expect(data["pipeline"]?.stringValue == "shop" && data["sink"]?.stringValue == "dead")
        #expect(data["consecutive_failures"] == .number(JSONNumber(2)))
        #expect(data["probe_at"]?.stringValue != nil && data["paused_at"]?.stringValue != nil)
        #expect(try Self.bodies(pager).filter { $0["event_type"]?.stringValue == "sink.paused" }.count == 1)

    }
}

/// Counts what the runner tells about operational events the store refused.
private final class BacklogObserver: DeliveryObserver {
    let counts = Mutex<(waiting: Int, dropped: Int)>((0, 0))
    func attemptJudged(pipeline: String, sink: String, outcome: AttemptOutcome, durationMs: Int64) {}
    func operationalEventsWaiting(change: Int) { counts.withLock { $0.waiting += change } }
    func operationalEventsDropped(_ count: Int) { counts.withLock { $0.dropped += count } }
}

/// When the store refuses the write of an operational event, and when a transform step fails.
extension OperationalRunnerTests {
    static let shopRetryingLater = """
        pipeline: shop
        source: { type: file, path: "${EVENTS}" }
        sign: { secrets: ["${SECRET}"] }
        sinks:
          dead: { type: scripted, name: dead, retry: { schedule: [0s, 1h] }, pause: false }
        """

    /// Starts a drain run of `pipelines` on `store` (the harness's own, wrapped).
    static func start(
        _ harness: RunnerHarness, store: any DeliveryStore, _ pipelines: [PipelineDefinition],
        configure: (inout DeliveryRunner.Options) -> Void = { _ in }
    ) -> (DeliveryRunner, Wakeup, RunOutcome) {
        var options = DeliveryRunner.Options()
        configure(&options)
        let runner = DeliveryRunner(pipelines: pipelines, store: store, clock: harness.clock, options: options, logger: Logger(format: .logfmt) { _ in })
        let done = Wakeup()
        let result = RunOutcome()
        Thread.detachNewThread {
            result.set(try? runner.run())
            done.signal()
        }
        return (runner, done, result)
    }

    /// Waits (bounded in real time) until `condition` holds.
    static func eventually(seconds: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !condition() {
            guard Date() < deadline else { return false }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return true
    }

    @Test("a delivery.failed the store refuses is kept, tried again with growing waits, and arrives once when the store takes writes")
    func refusedEventIsKeptAndRetried() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let faulty = FaultyStore(harness.store)
        let dead = ScriptedSink { _ in .httpStatus(500, retryAfter: nil, snippet: "down") }
        let pager = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let observer = BacklogObserver()
        let pipelines = try harness.pipelines([Self.shopRetryingLater, Self.alerts], sinks: ["dead": dead, "pager": pager])
        let (runner, done, _) = Self.start(harness, store: faulty, pipelines) { $0.observer = observer }
        #expect(harness.waitForRecordedAttempts(1))
        // The database goes away: new deliveries and attempt records are refused.
        faulty.fail([.enqueue, .record])
        harness.clock.advance(byMs: 3_600_000)
        #expect(dead.waitFor(2))
        #expect(Self.eventually { faulty.refusedCount("enqueue") == 1 && observer.counts.withLock { $0.waiting } == 1 })
        // Tried again after 0.5 s, then 1 s: each refusal waits longer; nothing is tried between.
        harness.clock.advance(byMs: 499)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(faulty.refusedCount("enqueue") == 1)
        harness.clock.advance(byMs: 1)
        #expect(Self.eventually { faulty.refusedCount("enqueue") == 2 })
        harness.clock.advance(byMs: 999)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(faulty.refusedCount("enqueue") == 2)
        // The attempt that made the event waits with it: its delivery is still in flight.
        let waiting = try #require(try harness.store.list(DeliveryQuery()).first { $0.sink == "dead" })
        #expect(waiting.status == .inFlight && waiting.attempts == 1)
        #expect(pager.count == 0)

        faulty.fail([])
        harness.clock.advance(byMs: 1)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 10)), "the drain did not end")
        #expect(faulty.refusedCount("record") == 0, "an attempt was written before the event it made")
        let bodies = try Self.bodies(pager)
        try #require(bodies.count == 1)
        #expect(bodies[0]["event_type"]?.stringValue == "delivery.failed")
        #expect(bodies[0]["data"]?.objectValue?["delivery_id"]?.stringValue == waiting.id)
        let settled = try #require(try harness.store.list(DeliveryQuery()).first { $0.id == waiting.id })
        #expect(settled.status == .failed && settled.attempts == 2)
        #expect(observer.counts.withLock { $0 } == (0, 0))
        #expect(runner.failureReasons.isEmpty, "\(runner.failureReasons)")
    }

    @Test("past the bound, the oldest refused operational events are given up, counted and named in the run's failure")
    func refusedEventsAreBounded() throws {
        let events = (1...3).map { #"{"id":"evt_b\#($0)","event_type":"points.earned","data":{"amount":\#($0)}}"# }
        let harness = try RunnerHarness(events: events)
        let faulty = FaultyStore(harness.store)
        let dead = ScriptedSink { _ in .httpStatus(500, retryAfter: nil, snippet: "down") }
        let pager = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        // serve's metrics, as /metrics shows them.
        let metrics = ServeMetrics()
        let counts = { () -> (waiting: Int?, dropped: Int?) in
            let text = metrics.render(ServeMetrics.Snapshot(outbox: nil, commits: (0, 0, 0), ready: true, runners: 1))
            let value = { (name: String) in
                text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ")[1]) }
            }
            return (value("loyali_hooks_operational_events_waiting"), value("loyali_hooks_operational_events_dropped_total"))
        }
        let pipelines = try harness.pipelines([Self.shopRetryingLater, Self.alerts], sinks: ["dead": dead, "pager": pager])
        let (runner, done, _) = Self.start(harness, store: faulty, pipelines) {
            $0.observer = metrics
            $0.operationalBacklogLimit = 2
        }
        #expect(harness.waitForCounts { $0[.retrying] == 3 })
        faulty.fail([.enqueue, .record])
        harness.clock.advance(byMs: 3_600_000)
        #expect(dead.waitFor(6))
        #expect(Self.eventually { counts() == (2, 1) }, "\(counts())")
        faulty.fail([])
        harness.clock.advance(byMs: 60_000)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 10)), "the drain did not end")
        #expect(pager.count == 2)
        // Every attempt is recorded, the given-up event's too.
        #expect(try harness.store.list(DeliveryQuery()).filter { $0.sink == "dead" }.map(\.status) == [.failed, .failed, .failed])
        #expect(counts() == (0, 1), "\(counts())")
        #expect(runner.failureReasons.contains { $0.contains("1 operational event given up, never stored") }, "\(runner.failureReasons)")
    }

    @Test("a delivery a transform step fails at ingest makes one delivery.failed with 0 attempts and the step's error, stored with it")
    func transformFailureAtIngest() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let pager = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let hook = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        // `amount` is a number, so setting a field inside it fails for this event.
        let shop = """
            pipeline: shop
            source: { type: file, path: "${EVENTS}" }
            transform:
              - set: { data.amount.currency: points }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              hook: { type: scripted, name: hook }
            """
        let pipelines = try harness.pipelines([shop, Self.alerts], sinks: ["hook": hook, "pager": pager])
        let (_, done, result) = harness.start(pipelines)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 10)), "the drain did not end")
        #expect(hook.count == 0)
        let failedRow = try #require(try harness.store.list(DeliveryQuery()).first { $0.pipeline == "shop" })
        #expect(failedRow.status == .failed)
        let bodies = try Self.bodies(pager)
        try #require(bodies.count == 1)
        #expect(bodies[0]["event_type"]?.stringValue == "delivery.failed")
        let data = try #require(bodies[0]["data"]?.objectValue)
        #expect(data["delivery_id"]?.stringValue == failedRow.id)
        #expect(data["pipeline"]?.stringValue == "shop" && data["sink"]?.stringValue == "hook")
        #expect(data["attempts"] == .number(JSONNumber(0)))
        #expect(data["error_class"]?.stringValue == "transform")
        #expect(data["error"]?.stringValue?.contains("cannot set data.amount.currency") == true, "\(data)")
        #expect(data["event_id"]?.stringValue == "evt_1")
        #expect(result.withLock { $0 }?.delivered == 1)

        // The same file read again from the start (a new checkpoint identity): the failed row and
        // its event dedupe, so the pager hears of it once.
        try harness.store.enqueue([], checkpoint: ("file:" + harness.eventsPath, 0), nowMs: harness.clock.nowMs())
        let (_, again, _) = harness.start(pipelines)
        #expect(again.wait(until: Date(timeIntervalSinceNow: 10)))
        #expect(pager.count == 1)
        #expect(try harness.store.list(DeliveryQuery()).count == 2)
    }
}

extension OperationalRunnerTests {
    @Test(
        "two nodes on one PostgreSQL store: each sink.* event reaches the operational pipeline once, signed, and none again after both restart",
        .enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func twoNodesAnnounceOnce() throws {
        let harness = try RunnerHarness(events: [])
        let url = try PostgresTestServer.freshDatabase()
        let clock = harness.clock
        let up = Atomic<Bool>(false)
        let dead = ScriptedSink { _ in up.load(ordering: .relaxed) ? .httpStatus(200, retryAfter: nil, snippet: "") : .httpStatus(500, retryAfter: nil, snippet: "down") }
        let pager = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let health = """
            pipeline: health
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              dead: { type: scripted, name: dead, pause: { after: 3, probe: 1m } }
            """
        let alerts = Self.alerts.replacingOccurrences(of: "[delivery.failed, delivery.recovered]", with: #"["sink.*", "delivery.*"]"#)
        let stores = try ["node-a", "node-b"].map { try PostgresDeliveryStore(url: url, options: StoreOptions(nodeID: $0)) }
        try stores[0].enqueue(SinkHealthTests.rows(1...8, sinks: ["dead"]), checkpoint: nil, nowMs: clock.nowMs())
        func startNodes() throws -> [(DeliveryRunner, Wakeup)] {
            try stores.map { store in
                var options = DeliveryRunner.Options()
                options.mode = .follow
                let runner = DeliveryRunner(
                    pipelines: try harness.pipelines([health, alerts], sinks: ["dead": dead, "pager": pager]), store: store, clock: clock,
                    options: options, logger: Logger(format: .logfmt) { _ in })
                let done = Wakeup()
                Thread.detachNewThread {
                    _ = try? runner.run()
                    done.signal()
                }
                return (runner, done)
            }
        }
        func stop(_ nodes: [(DeliveryRunner, Wakeup)]) {
            for (runner, _) in nodes { runner.requestStop() }
            for (_, done) in nodes { #expect(done.wait(until: Date(timeIntervalSinceNow: 10))) }
        }
        func types() -> [String] { ((try? Self.bodies(pager)) ?? []).compactMap { $0["event_type"]?.stringValue } }
        // Advances the clock a refresh at a time until `condition` holds (bounded in real time).
        func advance(until condition: () throws -> Bool) rethrows -> Bool {
            let deadline = Date(timeIntervalSinceNow: 10)
            while try !condition() {
                guard Date() < deadline else { return false }
                clock.advance(byMs: 1_500)
                Thread.sleep(forTimeInterval: 0.02)
            }
            return true
        }
        var nodes = try startNodes()
        #expect(advance { types().contains("sink.paused") }, "\(types())")
        up.store(true, ordering: .relaxed)
        #expect(advance { types().contains("sink.resumed") }, "\(types())")
        #expect(try advance { try stores[0].list(DeliveryQuery(status: .succeeded, pipeline: "health", limit: 100)).count == 8 })
        try stores[1].setSinkEnabled(pipeline: "health", sink: "dead", enabled: false, nowMs: clock.nowMs(), by: "the CLI")
        #expect(advance { types().contains("sink.disabled") }, "\(types())")
        try stores[0].setSinkEnabled(pipeline: "health", sink: "dead", enabled: true, nowMs: clock.nowMs(), by: "the CLI")
        #expect(advance { types().contains("sink.enabled") }, "\(types())")
        // Whatever else is due (a second announcement, a late delivery) has had its chance.
        for _ in 0..<5 {
            clock.advance(byMs: 1_500)
            Thread.sleep(forTimeInterval: 0.05)
        }
        stop(nodes)
        let before = types()
        let failedFirst = try stores[0].list(DeliveryQuery(pipeline: "health", limit: 100)).filter { $0.attempts > 1 }.count
        #expect(before.filter { $0.hasPrefix("sink.") }.sorted() == ["sink.disabled", "sink.enabled", "sink.paused", "sink.resumed"], "\(before)")
        #expect(before.filter { $0 == "delivery.recovered" }.count == failedFirst, "\(before)")
        let requests = pager.requests.withLock { $0 }
        #expect(Set(requests.map(\.deliveryID)).count == requests.count, "an operational event arrived twice")
        let verifier = LoyaliSignatureVerifier(secrets: [WebhookSecret("whsec_runner_test")])
        for request in requests {
            let header = try #require(request.headers.first { $0.name == "X-Loyali-Signature" }?.value)
            // At the time it was signed: the clock ran on by minutes since.
            let signedAt = try #require(header.split(separator: ",").first { $0.hasPrefix("t=") }.flatMap { Int64($0.dropFirst(2)) })
            #expect(throws: Never.self) { try verifier.verify(header: header, body: request.body, now: signedAt) }
        }
        // Both nodes start again on the same store: nothing is announced or sent again.
        nodes = try startNodes()
        for _ in 0..<5 {
            clock.advance(byMs: 1_500)
            Thread.sleep(forTimeInterval: 0.05)
        }
        stop(nodes)
        #expect(pager.count == requests.count, "\(types())")
    }
}

extension OperationalRunnerTests {
    @Test(
        "PostgreSQL restarted as a delivery fails for good: its delivery.failed is kept, stored once the database is back, and arrives once",
        .enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func databaseRestartKeepsTheEvent() throws {
        let postgres = try PrivatePostgres()
        let harness = try RunnerHarness(events: [])
        let store = try PostgresDeliveryStore(url: postgres.url, options: StoreOptions(nodeID: "node-a"))
        // The attempt ends only when told, so the database can be stopped while it is out.
        let answer = Atomic<Bool>(false)
        let slow = ScriptedSink { _ in
            while !answer.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.002) }
            return .httpStatus(500, retryAfter: nil, snippet: "down")
        }
        let pager = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let health = """
            pipeline: health
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              slow: { type: scripted, name: slow, pause: false }
            """
        try store.enqueue(SinkHealthTests.rows(1...1, sinks: ["slow"], schedule: [0]), checkpoint: nil, nowMs: harness.clock.nowMs())
        let observer = BacklogObserver()
        let (runner, done, _) = Self.start(harness, store: store, try harness.pipelines([health, Self.alerts], sinks: ["slow": slow, "pager": pager])) {
            $0.mode = .follow
            $0.observer = observer
        }
        #expect(slow.waitFor(1))
        try postgres.stop()
        answer.store(true, ordering: .releasing)
        #expect(Self.eventually(seconds: 10) { observer.counts.withLock { $0.waiting } == 1 }, "the store did not refuse the event")
        try postgres.start()
        let deadline = Date(timeIntervalSinceNow: 20)
        while pager.count == 0, Date() < deadline {
            harness.clock.advance(byMs: 1_000)
            Thread.sleep(forTimeInterval: 0.05)
        }
        runner.requestStop()
        #expect(done.wait(until: Date(timeIntervalSinceNow: 10)))
        let bodies = try Self.bodies(pager)
        #expect(bodies.map { $0["event_type"]?.stringValue } == ["delivery.failed"])
        #expect(observer.counts.withLock { $0 } == (0, 0))
        let database = try PostgresTestServer.connect(postgres.url)
        #expect(try database.query("SELECT count(*) FROM deliveries WHERE status = 'failed' AND sink = 'slow'").int64(0, 0) == 1)
    }
}

extension OperationalRunnerTests {
    @Test(
        "a sink.* event the store never took before a stop is made again at the next start, once; one made while no runner ran too",
        arguments: StoreEngineFixture.all)
    func sinkEventSurvivesAStopBeforeItIsStored(engine: StoreEngineFixture) throws {
        let harness = try RunnerHarness(events: [])
        let scope = try engine.makeScope()
        let store = try scope.open()
        let faulty = FaultyStore(store)
        let dead = ScriptedSink { _ in .httpStatus(500, retryAfter: nil, snippet: "down") }
        let pager = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let health = """
            pipeline: health
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              dead: { type: scripted, name: dead, retry: { schedule: [0s, 1h] }, pause: { after: 2, probe: 1h } }
            """
        let alerts = Self.alerts.replacingOccurrences(of: "[delivery.failed, delivery.recovered]", with: #"["sink.*"]"#)
        let pipelines = try harness.pipelines([health, alerts], sinks: ["dead": dead, "pager": pager])
        try store.enqueue(SinkHealthTests.rows(1...2, sinks: ["dead"], schedule: [0, 3_600_000]), checkpoint: nil, nowMs: harness.clock.nowMs())
        func types() -> [String] { ((try? Self.bodies(pager)) ?? []).compactMap { $0["event_type"]?.stringValue } }
        func run(on store: any DeliveryStore, seconds: Double = 30, until condition: () -> Bool) -> Bool {
            let (runner, done, _) = Self.start(harness, store: store, pipelines) { $0.mode = .follow }
            let deadline = Date(timeIntervalSinceNow: seconds)
            var held = false
            while Date() < deadline {
                if condition() {
                    held = true
                    break
                }
                harness.clock.advance(byMs: 1_500)
                Thread.sleep(forTimeInterval: 0.01)
            }
            runner.requestStop()
            #expect(done.wait(until: Date(timeIntervalSinceNow: 30)))
            return held
        }

        // The sink pauses; its state is written, but the store refuses the event's deliveries
        // until the run has stopped, as a crash right after the state's write would leave it.
        faulty.fail([.enqueue])
        #expect(run(on: faulty) { (try? store.sinkState(pipeline: "health", sink: "dead").status) == .paused && faulty.refusedCount("enqueue") > 0 })
        #expect(pager.count == 0)
        #expect(try store.sinkState(pipeline: "health", sink: "dead").announced == false, "the pause is stored as announced, its event lost")
        // The next start makes it again and it arrives, once; a start after that sends nothing.
        #expect(run(on: store) { types().contains("sink.paused") }, "\(types())")
        #expect(run(on: store, seconds: 1) { false } == false)
        #expect(types() == ["sink.paused"])
        #expect(try store.sinkState(pipeline: "health", sink: "dead").announced)
        // Enabled by hand while no runner runs: the next start announces it as sink.enabled,
        // though a resume would end healthy too.
        try store.setSinkEnabled(pipeline: "health", sink: "dead", enabled: false, nowMs: harness.clock.nowMs(), by: "the CLI")
        harness.clock.advance(byMs: 1_000)
        try store.setSinkEnabled(pipeline: "health", sink: "dead", enabled: true, nowMs: harness.clock.nowMs(), by: "the CLI")
        #expect(run(on: store) { types().count == 2 }, "\(types())")
        #expect(types() == ["sink.paused", "sink.enabled"])
    }
}
