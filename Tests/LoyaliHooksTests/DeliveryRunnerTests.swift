import Foundation
import Synchronization
import Testing
@testable import LoyaliHooks

/// A sink whose answers are scripted per delivery, recording every request it gets.
final class ScriptedSink: ConcurrentSink, @unchecked Sendable {
    // All mutable state is inside Mutexes; `arrived` is thread-safe.
    let kind = "scripted"
    let target = "scripted://test"
    let maxInFlight = 8
    var requiresSignature: Bool { true }
    /// The cap it shares with other scripted sinks, if any.
    let sharedLimit: SharedAttemptLimit?
    /// Given the delivery's attempt number, what to answer; `nil` holds the request until released.
    let script: @Sendable (Int) -> AttemptResult?
    let requests = Mutex<[DeliveryRequest]>([])
    let held = Mutex<[@Sendable () -> Void]>([])
    /// The completions of the held requests, in the same order, to answer one otherwise.
    let heldAnswers = Mutex<[@Sendable (AttemptResult) -> Void]>([])
    let arrived = Wakeup()

    init(sharedLimit: SharedAttemptLimit? = nil, script: @escaping @Sendable (Int) -> AttemptResult?) {
        self.sharedLimit = sharedLimit
        self.script = script
    }

    func send(_ request: DeliveryRequest, completion: @escaping @Sendable (AttemptResult) -> Void) {
        requests.withLock { $0.append(request) }
        if let result = script(request.attempt) {
            completion(result)
        } else {
            held.withLock { $0.append { completion(.httpStatus(200, retryAfter: nil, snippet: "")) } }
            heldAnswers.withLock { $0.append(completion) }
        }
        arrived.signal()
    }

    func deliver(_ request: DeliveryRequest) throws(DeliveryFailure) {}

    var count: Int { requests.withLock { $0.count } }

    /// Waits (bounded in real time) until at least `n` requests arrived.
    func waitFor(_ n: Int, seconds: Double = 30) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while count < n {
            guard Date() < deadline else { return false }
            arrived.wait(until: min(deadline, Date(timeIntervalSinceNow: 0.05)))
        }
        return true
    }
}

/// The counters a background run returned, once it has.
final class RunOutcome: Sendable {
    private let value = Mutex<DeliveryRunner.Counters?>(nil)
    func set(_ counters: DeliveryRunner.Counters?) { value.withLock { $0 = counters } }
    func withLock<T>(_ body: (DeliveryRunner.Counters?) -> T) -> T { value.withLock { body($0) } }
}

/// Builds pipelines whose sinks are scripted, and runs them against a temporary store.
struct RunnerHarness {
    let directory: String
    let eventsPath: String
    let store: SQLiteDeliveryStore
    let clock = ManualClock(startMs: 1_700_000_000_000)

    /// Removed with the last copy of the harness (the store's files are unlinked while open, which
    /// POSIX allows), so test runs leave nothing in the temp directory.
    private let temporary: TemporaryDirectory

    init(events: [String]) throws {
        temporary = try TemporaryDirectory()
        directory = temporary.url.path
        eventsPath = directory + "/events.jsonl"
        try (events.joined(separator: "\n") + "\n").write(toFile: eventsPath, atomically: true, encoding: .utf8)
        store = try SQLiteDeliveryStore(directory: directory + "/state")
    }

    func pipelines(_ yaml: String, sinks: [String: ScriptedSink]) throws -> [PipelineDefinition] {
        var registry = StageRegistry.builtIn
        registry.register(SinkFactory(kind: "scripted", summary: "test", keys: ["name"]) { _, mapping, reader in
            sinks[reader.literal(mapping["name"]!, what: "name")!]
        })
        let loader = PipelineLoader(environment: ["SECRET": "whsec_runner_test", "EVENTS": eventsPath], registry: registry)
        let (loaded, diagnostics) = loader.load(file: "test.yaml", text: yaml)
        guard let (pipeline, _) = loaded else {
            throw DiagnosticList(diagnostics)
        }
        return [pipeline]
    }

    /// Waits (bounded in real time) until the store holds `count` attempts of some delivery, so the
    /// test advances the clock only after the runner judged the previous attempt.
    func waitForRecordedAttempts(_ count: Int, seconds: Double = 30) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            let recorded = (try? store.list(DeliveryQuery()))?.map(\.attempts).max() ?? 0
            if recorded >= count { return true }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return false
    }

    /// Waits (bounded in real time) until the store's status counts satisfy `condition`.
    func waitForCounts(seconds: Double = 30, _ condition: ([DeliveryStatus: Int]) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if let counts = try? store.counts(), condition(counts) { return true }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return false
    }

    /// Starts a drain run on its own thread; the returned wakeup fires when it ends.
    func start(
        _ pipelines: [PipelineDefinition], mode: DeliveryRunner.Mode = .drain, batchSize: Int? = nil,
        configure: (inout DeliveryRunner.Options) -> Void = { _ in }
    ) -> (DeliveryRunner, Wakeup, RunOutcome) {
        var options = DeliveryRunner.Options()
        options.mode = mode
        if let batchSize { options.batchSize = batchSize }
        configure(&options)
        let runner = DeliveryRunner(
            pipelines: pipelines, store: store, clock: clock, options: options, logger: Logger(format: .logfmt) { _ in })
        let done = Wakeup()
        let result = RunOutcome()
        Thread.detachNewThread {
            result.set(try? runner.run())
            done.signal()
        }
        return (runner, done, result)
    }
}

// Serialized: each test blocks its thread while a runner works on another, and the cooperative
// pool has only as many threads as cores.
@Suite("Delivery runner", .serialized)
struct DeliveryRunnerTests {
    static let event = #"{"id":"evt_1","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{"customer_id":"cust_abc123","amount":150}}"#

    static func yaml(schedule: String = "[0s, 1m, 5m, 30m, 2h]") -> String {
        """
        pipeline: runner
        source: { type: file, path: "${EVENTS}" }
        sign: { secrets: ["${SECRET}"] }
        sinks:
          hook: { type: scripted, name: hook, retry: { schedule: \(schedule) } }
        """
    }

    @Test("walks the guide's whole 0s/1m/5m/30m/2h schedule on a fake clock, re-signing every attempt")
    func fullSchedule() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let sink = ScriptedSink { _ in .httpStatus(500, retryAfter: nil, snippet: "down") }
        let (runner, done, result) = harness.start(try harness.pipelines(Self.yaml(), sinks: ["hook": sink]))
        let delays: [Int64] = [60_000, 300_000, 1_800_000, 7_200_000]
        #expect(sink.waitFor(1))
        for (index, delay) in delays.enumerated() {
            #expect(harness.waitForRecordedAttempts(index + 1))
            // One delivery is retrying, however many retries it has had.
            #expect(runner.snapshot.retryingDeliveries == 1)
            #expect(runner.snapshot.retriesScheduled == index + 1)
            harness.clock.advance(byMs: delay)
            #expect(sink.waitFor(index + 2), "attempt \(index + 2) never came")
        }
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)), "drain run did not finish")
        let counters = try #require(result.withLock { $0 })
        #expect(counters.failed == 1)
        #expect(counters.retriesScheduled == 4)
        #expect(counters.retryingDeliveries == 0)

        let requests = sink.requests.withLock { $0 }
        #expect(requests.map(\.attempt) == [1, 2, 3, 4, 5])
        #expect(Set(requests.map(\.deliveryID)).count == 1)
        // Each attempt is signed at its own send time, so a receiver's 300 s tolerance passes.
        let start: Int64 = 1_700_000_000
        let expectedTimes = [start, start + 60, start + 360, start + 2_160, start + 9_360]
        for (request, time) in zip(requests, expectedTimes) {
            let header = try #require(request.headers.first { $0.name == "X-Loyali-Signature" }?.value)
            #expect(header.hasPrefix("t=\(time),v1="))
            let verifier = LoyaliSignatureVerifier(secrets: [WebhookSecret("whsec_runner_test")])
            #expect(throws: Never.self) { try verifier.verify(header: header, body: request.body, now: time + 10) }
        }
        let (summary, attempts) = try #require(try harness.store.detail(id: requests[0].deliveryID))
        #expect(summary.status == .failed)
        #expect(attempts.map(\.attempt) == [1, 2, 3, 4, 5])
        #expect(attempts.allSatisfy { $0.httpStatus == 500 })
    }

    @Test("an idle runner's refresh asks the store once, not every lane, and still finds work stored by someone else")
    func idleRefreshDoesNotClaimEveryLane() throws {
        let harness = try RunnerHarness(events: [])
        let sink = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let lanes = 60
        let yaml = """
            pipeline: runner
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
            \((0..<lanes).map { "  s\($0): { type: scripted, name: hook }" }.joined(separator: "\n"))
            """
        let (runner, done, _) = harness.start(try harness.pipelines(yaml, sinks: ["hook": sink]), mode: .follow)
        // Every lane asks once at the start (a previous run may have left work).
        let deadline = Date(timeIntervalSinceNow: 5)
        while runner.claimsAsked < lanes, Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        #expect(runner.claimsAsked == lanes)
        Thread.sleep(forTimeInterval: 0.05)
        let settled = runner.claimsAsked
        // Ten refresh intervals with nothing to do: a claim per lane each time was 600 claims.
        for _ in 0..<10 {
            harness.clock.advance(byMs: DeliveryRunner.refreshIntervalMs)
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(runner.claimsAsked - settled <= 2, "idle lanes asked the store \(runner.claimsAsked - settled) times")
        // A delivery stored by another process (a `resend`, another node) is still found.
        let row = NewDelivery(
            id: DeliveryID.make(eventID: "evt_elsewhere", pipeline: "runner", sink: "s17"), pipeline: "runner", sink: "s17",
            eventID: "evt_elsewhere", eventType: "points.earned", body: Array(#"{"n":1}"#.utf8), schedule: [0],
            createdAtMs: harness.clock.nowMs())
        try harness.store.enqueue([row], checkpoint: nil, nowMs: harness.clock.nowMs())
        var found = false
        for _ in 0..<5 where !found {
            harness.clock.advance(byMs: DeliveryRunner.refreshIntervalMs)
            found = sink.waitFor(1, seconds: 0.5)
        }
        #expect(found, "the refresh never found the delivery stored by someone else")
        #expect(runner.claimsAsked - settled <= 6, "only the lane with work asked")
        runner.requestStop()
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)))
    }

    @Test("a receiver that fails twice gets a third attempt with the same id, and the log shows all three")
    func failTwiceThenSucceed() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let sink = ScriptedSink { attempt in attempt <= 2 ? .httpStatus(503, retryAfter: nil, snippet: "") : .httpStatus(200, retryAfter: nil, snippet: "ok") }
        let (_, done, result) = harness.start(try harness.pipelines(Self.yaml(schedule: "[0s, 1s, 1s]"), sinks: ["hook": sink]))
        #expect(harness.waitForRecordedAttempts(1))
        harness.clock.advance(byMs: 1_000)
        #expect(harness.waitForRecordedAttempts(2))
        harness.clock.advance(byMs: 1_000)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(result.withLock { $0 }?.delivered == 1)
        let id = sink.requests.withLock { $0[0].deliveryID }
        let (summary, attempts) = try #require(try harness.store.detail(id: id))
        #expect(summary.status == .succeeded)
        #expect(attempts.map(\.httpStatus) == [503, 503, 200])
    }

    @Test("410 Gone fails at once without retries")
    func gone() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let sink = ScriptedSink { _ in .httpStatus(410, retryAfter: nil, snippet: "") }
        let (_, done, result) = harness.start(try harness.pipelines(Self.yaml(), sinks: ["hook": sink]))
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(sink.count == 1)
        #expect(result.withLock { $0 }?.failed == 1)
    }

    /// One source, two scripted sinks: `stuck` and `healthy`.
    static let stuckAndHealthy = """
        pipeline: runner
        source: { type: file, path: "${EVENTS}" }
        sign: { secrets: ["${SECRET}"] }
        sinks:
          stuck: { type: scripted, name: stuck }
          healthy: { type: scripted, name: healthy }
        """

    @Test("a stuck endpoint never delays another sink")
    func isolation() throws {
        let events = (1...20).map { #"{"id":"evt_\#($0)","event_type":"points.earned","data":{"amount":\#($0)}}"# }
        let harness = try RunnerHarness(events: events)
        let stuck = ScriptedSink { _ in nil }
        let healthy = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let (runner, done, _) = harness.start(try harness.pipelines(Self.stuckAndHealthy, sinks: ["stuck": stuck, "healthy": healthy]))
        #expect(healthy.waitFor(20), "the healthy sink was held up by the stuck one")
        #expect(stuck.count == stuck.maxInFlight, "the stuck sink must stop at its in-flight limit")
        runner.requestStop()
        for release in stuck.held.withLock({ $0 }) { release() }
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)))
    }

    @Test("a stop whose grace runs out leaves nothing in flight: cut-off attempts are logged as interrupted, unstarted ones go back")
    func stopLeavesNothingInFlight() throws {
        let events = (1...20).map { #"{"id":"evt_\#($0)","event_type":"points.earned","data":{"amount":\#($0)}}"# }
        let harness = try RunnerHarness(events: events)
        let stuck = ScriptedSink { _ in nil }
        let (runner, done, _) = harness.start(try harness.pipelines(Self.yaml(), sinks: ["hook": stuck]), mode: .follow, batchSize: 4)
        #expect(stuck.waitFor(stuck.maxInFlight))
        #expect(harness.waitForCounts { $0[.pending, default: 0] + $0[.inFlight, default: 0] == 20 })
        runner.requestStop()
        // The default grace is 10 s; the stuck requests never answer.
        Thread.sleep(forTimeInterval: 0.05)
        harness.clock.advance(byMs: 11_000)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)), "the stop did not end the run")

        let counts = try harness.store.counts()
        #expect(counts[.inFlight] == 0)
        #expect(counts[.retrying] == stuck.maxInFlight)
        #expect(counts[.pending] == 20 - stuck.maxInFlight)
        let sent = Set(stuck.requests.withLock { $0.map(\.deliveryID) })
        for row in try harness.store.list(DeliveryQuery()) {
            let (_, attempts) = try #require(try harness.store.detail(id: row.id))
            if sent.contains(row.id) {
                #expect(row.attempts == 1)
                #expect(attempts.map(\.errorClass) == ["interrupted"])
                #expect(row.nextAttemptMs != nil && row.nextAttemptMs! <= harness.clock.nowMs())
            } else {
                #expect(row.attempts == 0)
                #expect(attempts.isEmpty)
            }
        }

        // The restart sends the cut-off deliveries as attempt 2, the others as attempt 1.
        let healthy = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let (_, again, result) = harness.start(try harness.pipelines(Self.yaml(), sinks: ["hook": healthy]))
        #expect(again.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(result.withLock { $0 }?.delivered == 20)
        for request in healthy.requests.withLock({ $0 }) {
            #expect(request.attempt == (sent.contains(request.deliveryID) ? 2 : 1))
        }
    }

    @Test("a store that fills up stops reading, acknowledges nothing unstored, and fails the run with the reason")
    func fullStoreFailsTheRun() throws {
        let events = (1...300).map { #"{"id":"evt_\#($0)","event_type":"points.earned","data":{"amount":\#($0)}}"# }
        let harness = try RunnerHarness(events: events)
        let sink = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        try harness.store.limitGrowth(true)
        let (runner, done, result) = harness.start(try harness.pipelines(Self.yaml(), sinks: ["hook": sink]), mode: .follow)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)), "a follow run whose store is full must end")
        #expect(result.withLock { $0 }?.sourcesFailed == 1)
        #expect(runner.failureReasons.count == 1)
        #expect(runner.failureReasons.first?.contains("could not be stored") == true, "\(runner.failureReasons)")
        #expect(runner.failureReasons.first?.contains("full") == true, "\(runner.failureReasons)")
        // Batches start small (see BatchSizer): the first may fit before the store is full. What
        // was stored is acknowledged and delivered; nothing after it is.
        let stored = try harness.store.counts().values.reduce(0, +)
        #expect(stored < 300)
        let checkpoint = try harness.store.checkpoint(source: "file:" + harness.eventsPath)
        #expect((checkpoint == nil) == (stored == 0), "only what was stored was acknowledged")
        #expect(sink.count == stored)
        // Attempts of what was stored are written after the failure, and may go through (they
        // fit in pages the store has), which clears the store's last write failure.
        if stored == 0 { #expect(harness.store.writeFailure?.contains("full") == true) }

        try harness.store.limitGrowth(false)
        let (_, again, second) = harness.start(try harness.pipelines(Self.yaml(), sinks: ["hook": sink]))
        #expect(again.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(second.withLock { $0 }?.delivered == 300 - stored)
        #expect(harness.store.writeFailure == nil)
    }

    @Test("replaying a source never makes a second delivery, and a file source resumes from its checkpoint")
    func replayAndCheckpoint() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let sink = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let pipelines = try harness.pipelines(Self.yaml(), sinks: ["hook": sink])
        let (_, done1, result1) = harness.start(pipelines)
        #expect(done1.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(result1.withLock { $0 }?.enqueued == 1)

        // Same bytes again from offset 0 (checkpoint cleared by a new identity): deduped by id.
        try harness.store.enqueue(
            [NewDelivery(id: sink.requests.withLock { $0[0].deliveryID }, pipeline: "runner", sink: "hook", eventID: "evt_1",
                         eventType: "points.earned", body: [0x7B, 0x7D], schedule: [0], createdAtMs: 0)],
            checkpoint: nil, nowMs: harness.clock.nowMs())
        // A second run reads only what was appended after the checkpoint.
        let handle = try #require(FileHandle(forWritingAtPath: harness.eventsPath))
        handle.seekToEndOfFile()
        handle.write(Data((#"{"id":"evt_2","event_type":"points.earned","data":{"amount":5}}"# + "\n").utf8))
        try handle.close()
        let (_, done2, result2) = harness.start(pipelines)
        #expect(done2.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(result2.withLock { $0 }?.eventsRead == 1)
        #expect(result2.withLock { $0 }?.enqueued == 1)
        #expect(sink.count == 2)
    }

    @Test("resend of a failed delivery sends it again with the same id and a fresh schedule")
    func resendFailed() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let failing = Atomic<Bool>(true)
        let sink = ScriptedSink { _ in failing.load(ordering: .relaxed) ? .httpStatus(500, retryAfter: nil, snippet: "") : .httpStatus(200, retryAfter: nil, snippet: "") }
        let pipelines = try harness.pipelines(Self.yaml(schedule: "[0s]"), sinks: ["hook": sink])
        let (_, done, _) = harness.start(pipelines)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)))
        var query = DeliveryQuery()
        query.status = .failed
        #expect(try harness.store.list(query).count == 1)

        failing.store(false, ordering: .relaxed)
        #expect(try harness.store.resend(matching: query, nowMs: harness.clock.nowMs()) == 1)
        let (_, again, result) = harness.start(pipelines)
        #expect(again.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(result.withLock { $0 }?.delivered == 1)
        let requests = sink.requests.withLock { $0 }
        #expect(requests.count == 2)
        #expect(requests[0].deliveryID == requests[1].deliveryID)
        #expect(requests[1].attempt == 2)
    }

    @Test("a transform failure is stored as a failed delivery with its reason; a resend runs the steps again")
    func transformFailureIsResendable() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let sink = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        // `amount` is a number, so setting a field inside it fails for this event.
        let failing = try harness.pipelines("""
            pipeline: runner
            source: { type: file, path: "${EVENTS}" }
            transform:
              - set: { data.amount.currency: points }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              hook: { type: scripted, name: hook }
            """, sinks: ["hook": sink])
        let (_, done, result) = harness.start(failing)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(result.withLock { $0 }?.transformFailures == 1)
        #expect(sink.count == 0, "nothing untransformed may be sent")
        var query = DeliveryQuery()
        query.status = .failed
        let failed = try harness.store.list(query)
        #expect(failed.count == 1)
        #expect(failed.first?.lastError?.contains("cannot set data.amount.currency") == true)

        // The pipeline is fixed (same name and sink, a step that now succeeds) and the delivery resent.
        let fixed = try harness.pipelines("""
            pipeline: runner
            source: { type: file, path: "${EVENTS}" }
            transform:
              - set: { data.currency: points }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              hook: { type: scripted, name: hook }
            """, sinks: ["hook": sink])
        #expect(try harness.store.resend(matching: query, nowMs: harness.clock.nowMs()) == 1)
        let (_, again, _) = harness.start(fixed)
        #expect(again.wait(until: Date(timeIntervalSinceNow: 5)))
        let requests = sink.requests.withLock { $0 }
        #expect(requests.count == 1)
        #expect(requests.first?.deliveryID == failed.first?.id)
        let body = try #require(requests.first.map { String(decoding: $0.body, as: UTF8.self) })
        #expect(body.hasPrefix(#"{"id":"\#(failed.first!.id)","event_type":"points.earned""#))
        #expect(body.contains(#""currency":"points""#))
    }

    @Test("a lane keeps a retry judged while its claim was out, and compacts its buffer when more arrive")
    func laneTakesClaimResults() throws {
        let harness = try RunnerHarness(events: [Self.event])
        let pipeline = try #require(try harness.pipelines(Self.yaml(), sinks: ["hook": ScriptedSink { _ in .accepted }]).first)
        let lane = SinkLane(pipeline: pipeline, sink: try #require(pipeline.sinks.first))
        func claimed(_ number: Int) -> ClaimedDelivery {
            ClaimedDelivery(
                id: "whd_\(number)", pipeline: "runner", sink: "hook", eventID: "evt_\(number)", eventType: "points.earned",
                body: [], attempt: 1, schedule: [0], scheduleOffset: 0)
        }

        // The store answered "nothing due" from before the retry was written: the retry wins.
        lane.claimPending = true
        lane.scheduleRetry(atMs: 5_000)
        lane.take(StoreWorker.ClaimResult(lane: 0, claimed: [], nextDueMs: SinkLane.nothingDue), nowMs: 1_000)
        #expect(!lane.claimPending)
        #expect(lane.nextDueMs == 5_000)

        // Claims made ahead append behind what is left, dropping what was already taken.
        lane.claimPending = true
        lane.take(StoreWorker.ClaimResult(lane: 0, claimed: [claimed(1), claimed(2)], nextDueMs: nil), nowMs: 2_000)
        // Nothing is sent before the store marked its attempt started; marks go a window ahead.
        #expect(lane.nextClaimed() == nil)
        #expect(lane.takeToMark(window: 1, nowMs: 2_000) == ["whd_1"])
        #expect(lane.takeToMark(window: 1, nowMs: 2_000) == nil, "one mark at a time")
        #expect(lane.markAnswered(generation: lane.markGeneration, lost: []).isEmpty)
        #expect(lane.nextClaimed()?.id == "whd_1")
        #expect(lane.nextClaimed() == nil, "whd_2 is not marked")
        lane.claimPending = true
        lane.take(StoreWorker.ClaimResult(lane: 0, claimed: [claimed(3)], nextDueMs: nil), nowMs: 3_000)
        #expect(lane.claimed.map(\.id) == ["whd_2", "whd_3"])
        #expect(lane.claimedCount == 2)
        #expect(lane.nextDueMs == 3_000, "more may be due than one claim took")
        #expect(lane.takeToMark(window: 4, nowMs: 3_000) == ["whd_2", "whd_3"])
        #expect(lane.markAnswered(generation: lane.markGeneration, lost: []).isEmpty)
        #expect(lane.nextClaimed()?.id == "whd_2")
        #expect(lane.nextClaimed()?.id == "whd_3")
        #expect(lane.isIdle)

        // A delivery another node took meanwhile is dropped, not sent; an answer for deliveries
        // given back before it came is ignored.
        lane.append([claimed(4), claimed(5), claimed(6)])
        #expect(lane.takeToMark(window: 4, nowMs: 4_000) == ["whd_4", "whd_5", "whd_6"])
        #expect(lane.markAnswered(generation: lane.markGeneration, lost: ["whd_5"]).map(\.id) == ["whd_5"])
        #expect(lane.nextClaimed()?.id == "whd_4")
        #expect(lane.nextClaimed()?.id == "whd_6")
        lane.append([claimed(7)])
        let generation = lane.markGeneration
        #expect(lane.takeToMark(window: 4, nowMs: 5_000) == ["whd_7"])
        #expect(lane.takeUnstarted().map(\.id) == ["whd_7"])
        lane.append([claimed(8)])
        #expect(lane.markAnswered(generation: generation, lost: []).isEmpty)
        #expect(lane.nextClaimed() == nil, "whd_8 was never marked")
        lane.markFailed(generation: lane.markGeneration, retryAtMs: 7_000)
        #expect(lane.takeToMark(window: 4, nowMs: 6_000) == nil, "after a failed mark, the lane waits")
        #expect(lane.takeToMark(window: 4, nowMs: 7_000) == ["whd_8"])
    }

    @Test("deliveries handed in before the run starts (serve's ingest) are sent once, not again after the in-flight recovery")
    func ingestedBeforeRunIsSentOnce() throws {
        let harness = try RunnerHarness(events: [])
        // Holds every request, so a second copy would be claimed while the first is out.
        let sink = ScriptedSink { _ in nil }
        let pipelines = try harness.pipelines(Self.yaml(), sinks: ["hook": sink])
        var options = DeliveryRunner.Options()
        options.mode = .drain
        let runner = DeliveryRunner(
            pipelines: pipelines, store: harness.store, clock: harness.clock, options: options, logger: Logger(format: .logfmt) { _ in })
        let rows = (1...5).map { number in
            NewDelivery(
                id: DeliveryID.make(eventID: "evt_\(number)", pipeline: "runner", sink: "hook"), pipeline: "runner", sink: "hook",
                eventID: "evt_\(number)", eventType: "points.earned", body: Array(#"{"n":\#(number)}"#.utf8), schedule: [0],
                createdAtMs: 0)
        }
        #expect(try runner.enqueueIngested(rows, counters: .init()) == 5)
        let done = Wakeup()
        let result = RunOutcome()
        Thread.detachNewThread {
            result.set(try? runner.run())
            done.signal()
        }
        #expect(sink.waitFor(5))
        #expect(!sink.waitFor(6, seconds: 0.5), "a delivery was sent a second time")
        for release in sink.held.withLock({ $0 }) { release() }
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(result.withLock { $0 }?.delivered == 5)
        #expect(sink.count == 5, "each delivery is sent exactly once")
    }

    @Test("a stuck sink's overflow goes through the store; ingest and the healthy sink carry on, and nothing is lost")
    func handOffOverflowsToTheStore() throws {
        let events = (1...200).map { #"{"id":"evt_\#($0)","event_type":"points.earned","data":{"amount":\#($0)}}"# }
        let harness = try RunnerHarness(events: events)
        let released = Mutex(false)
        // Holds every request until released, then answers 200.
        let stuck = ScriptedSink { _ in released.withLock { $0 } ? .httpStatus(200, retryAfter: nil, snippet: "") : nil }
        let healthy = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        // Batches of 4: each lane takes 8 fresh deliveries at most before its rows go to the store.
        let (_, done, result) = harness.start(
            try harness.pipelines(Self.stuckAndHealthy, sinks: ["stuck": stuck, "healthy": healthy]), batchSize: 4)
        #expect(healthy.waitFor(200), "the healthy sink was held up by the stuck one")
        #expect(stuck.count == stuck.maxInFlight)
        // Every delivery is in the store, whichever way it reached its lane.
        #expect(try harness.store.counts().values.reduce(0, +) == 400)

        released.withLock { $0 = true }
        for release in stuck.held.withLock({ $0 }) { release() }
        #expect(done.wait(until: Date(timeIntervalSinceNow: 10)))
        #expect(result.withLock { $0 }?.delivered == 400)
        let ids = Set(stuck.requests.withLock { $0.map(\.deliveryID) })
        #expect(ids.count == 200, "every delivery of the stuck sink arrived")
        #expect(try harness.store.counts()[.succeeded] == 400)
    }
}

@Suite("Hand-off of fresh deliveries")
struct HandOffTests {
    func delivery(_ number: Int) -> ClaimedDelivery {
        ClaimedDelivery(
            id: "whd_\(number)", pipeline: "p", sink: "s", eventID: "evt_\(number)", eventType: "points.earned",
            body: [], attempt: 1, schedule: [0], scheduleOffset: 0)
    }

    @Test("room, close, reopen, and oldest-first takes")
    func bookkeeping() {
        let handOff = HandOff(laneCount: 2, capacity: 3)
        #expect(handOff.room().lanes == [3, 3])
        handOff.push([(0, delivery(1)), (0, delivery(2)), (1, delivery(3))])
        #expect(handOff.room().lanes == [1, 2])
        handOff.close(1)
        #expect(handOff.room().lanes == [1, nil])
        #expect(handOff.take(0, limit: 1).map(\.id) == ["whd_1"])
        #expect(handOff.take(0, limit: 5).map(\.id) == ["whd_2"])
        #expect(!handOff.hasQueued(0))
        #expect(handOff.hasQueued(1), "a closed lane still gets what it was handed")
        handOff.reopen(1)
        #expect(handOff.room().lanes == [3, 2])
    }

    @Test("all lanes together hold at most the byte budget; taking frees it")
    func byteBudget() {
        let one = delivery(1).footprint
        let handOff = HandOff(laneCount: 3, capacity: 100, byteCapacity: 3 * one)
        #expect(handOff.room().bytes == 3 * one)
        handOff.push([(0, delivery(1)), (1, delivery(2))])
        #expect(handOff.room().bytes == one)
        #expect(handOff.room().lanes == [99, 99, 100], "the count per lane is a separate cap")
        _ = handOff.take(0, limit: 1)
        #expect(handOff.room().bytes == 2 * one)

        // Spent budget makes ingest wait like a full lane, and closes the lanes when nobody takes.
        let waiting = HandOff(laneCount: 2, capacity: 100, byteCapacity: one, patience: 0.05)
        waiting.push([(0, delivery(3))])
        let started = Date()
        waiting.waitForRoom(fed: [0, 1], batch: 1) { false }
        #expect(Date().timeIntervalSince(started) >= waiting.patience)
        #expect(waiting.room().lanes == [nil, nil])
    }

    @Test("ingest waits for a full lane while it takes work, and closes it when it stops")
    func pacing() {
        let handOff = HandOff(laneCount: 2, capacity: 2, patience: 0.05)
        // Room: no wait.
        var started = Date()
        handOff.waitForRoom(fed: [0], batch: 2) { false }
        #expect(Date().timeIntervalSince(started) < handOff.patience)
        handOff.push([(0, delivery(1)), (0, delivery(2))])
        handOff.close(1)
        // Lane 0 is full and nobody takes from it; lane 1 is closed, so it is not waited for.
        // After the patience lane 0 is closed too.
        started = Date()
        handOff.waitForRoom(fed: [0, 1], batch: 1) { false }
        #expect(Date().timeIntervalSince(started) >= handOff.patience)
        #expect(handOff.room().lanes == [nil, nil])
        // Nothing open: no wait.
        started = Date()
        handOff.waitForRoom(fed: [0, 1], batch: 1) { false }
        #expect(Date().timeIntervalSince(started) < handOff.patience)

        // A full lane that keeps taking is waited for until it has room for the whole batch.
        let patient = HandOff(laneCount: 1, capacity: 2, patience: 5)
        patient.push([(0, delivery(3)), (0, delivery(4))])
        let taker = Thread {
            for _ in 0..<2 {
                Thread.sleep(forTimeInterval: 0.01)
                _ = patient.take(0, limit: 1)
            }
        }
        taker.start()
        patient.waitForRoom(fed: [0], batch: 2) { false }
        #expect(patient.room().lanes == [2], "the wait ends when the lane has room for the batch, not before")
        // A stop ends the wait at once.
        patient.push([(0, delivery(5)), (0, delivery(6))])
        started = Date()
        patient.waitForRoom(fed: [0], batch: 2) { true }
        #expect(Date().timeIntervalSince(started) < 1)
    }
}

@Suite struct StatusLineTests {
    @Test func logLinesClearTheProgressLineAndItIsDrawnAgainBelowThem() {
        let written = Mutex<[String]>([])
        let status = StatusLine { text in written.withLock { $0.append(text) } }
        let logger = Logger(format: .logfmt, write: status.log)
        logger.log(.info, "before")
        status.show("⏳ 1 event")
        logger.log(.warn, "attempt failed")
        status.show("⏳ 2 events")
        status.remove()
        status.show("⏳ late timer")
        logger.log(.info, "after")
        let clear = "\r\u{1B}[2K"
        #expect(written.withLock { $0 } == [
            "level=info msg=before\n",
            clear + "⏳ 1 event",
            clear + "level=warn msg=\"attempt failed\"\n⏳ 1 event",
            clear + "⏳ 2 events",
            clear,
            "level=info msg=after\n",
        ])
        // On screen, no log line shares a line with the progress text.
        // On screen (a clear wipes what the line held), no log line shares a line with the progress.
        let screen = written.withLock { $0.joined() }.components(separatedBy: "\n").map { $0.components(separatedBy: clear).last! }
        #expect(screen == ["level=info msg=before", "level=warn msg=\"attempt failed\"", "level=info msg=after", ""])
    }
}

@Suite("Runner layout: swapping pipelines in place")
struct RunnerLayoutTests {
    static func definition(_ name: String, _ extra: String = "") throws -> PipelineDefinition {
        let text = "pipeline: \(name)\nsource: { type: stdin }\n\(extra)sinks: { out: { type: stdout } }\n"
        return try #require(PipelineLoader(environment: [:], registry: .builtIn).load(file: "\(name).yaml", text: text).0?.0)
    }

    static func key(_ pipeline: String) -> DeliveryRunner.LaneKey { DeliveryRunner.LaneKey(pipeline: pipeline, sink: "out") }

    @Test("only changed, added and removed pipelines get new lanes; rows go to the definition that planned them")
    func swapsOnlyWhatChanged() throws {
        let a = try Self.definition("a")
        var layout = RunnerLayout(pipelines: [a, try Self.definition("b")])
        let swapped = layout.reconfigure(
            pipelines: [a, try Self.definition("b", "description: new\n"), try Self.definition("c")], changed: ["b"], cutoffMs: 1_000)
        #expect(swapped == ["b", "c"])
        #expect(layout.lanes.count == 4)
        // a keeps its lane, untouched.
        #expect(layout.laneIndex[Self.key("a")] == 0)
        #expect(!layout.lanes[0].retired && layout.lanes[0].window == .all)
        // b's old lane keeps what came before the cut-off, its new lane what comes from it on.
        #expect(layout.lanes[1].retired && layout.lanes[1].window == CreationWindow(beforeMs: 1_000))
        #expect(layout.laneIndex[Self.key("b")] == 2)
        #expect(layout.lanes[2].window == CreationWindow(fromMs: 1_000))
        #expect(layout.laneIndex[Self.key("c")] == 3)
        // A row planned with b's old definition stays before the cut-off however late it is
        // stored; one planned with the new definition falls after it; a's rows keep their time.
        #expect(layout.stamp(1_500, pipeline: "b", plannedVersion: 0) == 999)
        #expect(layout.stamp(500, pipeline: "b", plannedVersion: 1) == 1_000)
        #expect(layout.stamp(1_500, pipeline: "a", plannedVersion: 0) == 1_500)
        #expect(layout.lane(for: Self.key("b"), createdAtMs: 999) == nil, "the old lane claims it from the store")
        #expect(layout.lane(for: Self.key("b"), createdAtMs: 1_000) == 2)
        #expect(layout.lane(for: Self.key("a"), createdAtMs: 5) == 0)
        #expect(layout.retiringCount == 1)
        // Once the old lane has settled, the new one takes its window over (resends).
        #expect(layout.finish(1) == 2)
        #expect(layout.lanes[2].window == .all)
        #expect(layout.hasFinished(pipeline: "b", retiredAt: 1))
        #expect(layout.retiringCount == 0)
        // A pipeline removed: its lane is retired and has no successor.
        _ = layout.reconfigure(pipelines: layout.pipelines.filter { $0.name != "a" }, changed: [], cutoffMs: 2_000)
        #expect(layout.laneIndex[Self.key("a")] == nil)
        #expect(layout.lanes[0].retired && layout.lanes[0].window == CreationWindow(beforeMs: 2_000))
        #expect(layout.finish(0) == nil)
    }
}
