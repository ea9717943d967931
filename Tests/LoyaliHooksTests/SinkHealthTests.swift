import Foundation
import Synchronization
import Testing
@testable import LoyaliHooks

/// Records every sink health change the runner announces.
final class RecordingObserver: DeliveryObserver {
    let changes = Mutex<[SinkStateChange]>([])

    func attemptJudged(pipeline: String, sink: String, outcome: AttemptOutcome, durationMs: Int64) {}

    func sinkStateChanged(_ change: SinkStateChange) {
        changes.withLock { $0.append(change) }
    }

    var kinds: [SinkStateChange.Kind] { changes.withLock { $0.map(\.kind) } }

    /// Waits (bounded in real time) until `kind` was announced `count` times.
    func waitFor(_ kind: SinkStateChange.Kind, count: Int = 1, seconds: Double = 30) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while kinds.filter({ $0 == kind }).count < count {
            guard Date() < deadline else { return false }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return true
    }
}

// Serialized: each test blocks its thread while a runner works on another.
@Suite("Sink health: pause, probe, resume, disable", .serialized)
struct SinkHealthTests {
    static let schedule: [Int64] = [0, 60_000, 300_000, 1_800_000, 7_200_000]

    /// Rows of events `numbers` for each of `sinks` of pipeline `health`, as serve's ingest hands
    /// them in.
    static func rows(_ numbers: ClosedRange<Int>, sinks: [String], schedule: [Int64] = schedule) -> [NewDelivery] {
        numbers.flatMap { number in
            sinks.map { sink in
                NewDelivery(
                    id: DeliveryID.make(eventID: "evt_\(number)", pipeline: "health", sink: sink), pipeline: "health", sink: sink,
                    eventID: "evt_\(number)", eventType: "points.earned", body: Array(#"{"n":\#(number)}"#.utf8),
                    schedule: schedule, createdAtMs: 0)
            }
        }
    }

    static func waitUntil(seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while try !condition() {
            guard Date() < deadline else { return false }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return true
    }

    @Test("a dead sink among healthy ones pauses after 10 failures; then it costs only probes at doubling intervals, under 1% of attempts")
    func deadSinkCostsUnderOnePercent() throws {
        let harness = try RunnerHarness(events: [])
        let clock = harness.clock
        let startMs = clock.nowMs()
        let deadTimes = Mutex<[Int64]>([])
        let dead = ScriptedSink { _ in
            deadTimes.withLock { $0.append(clock.nowMs()) }
            return .httpStatus(500, retryAfter: nil, snippet: "down")
        }
        let healthy = (1...3).map { _ in ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") } }
        let yaml = """
            pipeline: health
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              dead: { type: scripted, name: dead }
              h1: { type: scripted, name: h1 }
              h2: { type: scripted, name: h2 }
              h3: { type: scripted, name: h3 }
            """
        let pipelines = try harness.pipelines(yaml, sinks: ["dead": dead, "h1": healthy[0], "h2": healthy[1], "h3": healthy[2]])
        let observer = RecordingObserver()
        let (runner, done, _) = harness.start(pipelines, mode: .follow) { $0.observer = observer }
        let sinks = ["dead", "h1", "h2", "h3"]
        try runner.enqueueIngested(Self.rows(1...100, sinks: sinks), counters: .init())
        #expect(observer.waitFor(.paused), "the dead sink never paused")
        #expect(healthy.allSatisfy { $0.waitFor(100) })
        let beforePause = dead.count
        #expect(beforePause >= 10 && beforePause <= 10 + dead.maxInFlight, "paused at the 10th failure, give or take those in flight")

        // An hour of traffic, 20 events every 30 s, while the dead sink stays dead.
        let steps = 120
        for step in 1...steps {
            clock.advance(byMs: 30_000)
            let first = 100 + (step - 1) * 20 + 1
            try runner.enqueueIngested(Self.rows(first...(first + 19), sinks: sinks), counters: .init())
            #expect(healthy.allSatisfy { $0.waitFor(100 + step * 20) })
        }
        // The last probe due is judged before counting.
        Thread.sleep(forTimeInterval: 0.05)
        runner.requestStop()
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)))

        let probes = deadTimes.withLock { $0.filter { $0 > startMs } }
        let healthyAttempts = healthy.reduce(0) { $0 + $1.count } - 300
        let share = Double(probes.count) / Double(probes.count + healthyAttempts)
        print("sink health: a dead sink among 3 healthy ones, over 1 h after it paused: \(probes.count) probes of \(probes.count + healthyAttempts) attempts (\(String(format: "%.3f", share * 100))%)")
        #expect(share < 0.01)
        // Probes after 30 s, then doubling: 30 s, 1 m, 2 m, 4 m, 8 m, 16 m fit in the hour.
        #expect(probes.count >= 5 && probes.count <= 7, "probes at \(probes.map { ($0 - startMs) / 1000 }) s")
        #expect((probes.first ?? 0) - startMs >= 30_000)
        let gaps = zip(probes.dropFirst(), probes).map { $0 - $1 }
        #expect(zip(gaps.dropFirst(), gaps).allSatisfy { $0 >= $1 }, "probe intervals grow: \(gaps)")
        // Waiting deliveries are neither attempted nor failed.
        #expect(try harness.store.list(DeliveryQuery(status: .failed, limit: 10)).isEmpty)
        let waiting = try harness.store.list(DeliveryQuery(pipeline: "health", sink: "dead", limit: 10_000))
        #expect(waiting.count == 100 + steps * 20)
        #expect(waiting.filter { $0.attempts == 0 }.count >= waiting.count - beforePause - probes.count)
        #expect(observer.kinds == [.paused])
        #expect(try harness.store.sinkState(pipeline: "health", sink: "dead").status == .paused)
    }

    @Test("while paused, schedules stand still; a probe that succeeds resumes the sink and the backlog drains")
    func frozenSchedulesAndResume() throws {
        let harness = try RunnerHarness(events: [])
        let clock = harness.clock
        let t0 = clock.nowMs()
        let failing = Atomic<Bool>(true)
        let sink = ScriptedSink { _ in
            failing.load(ordering: .relaxed) ? .httpStatus(503, retryAfter: nil, snippet: "") : .httpStatus(200, retryAfter: nil, snippet: "")
        }
        let yaml = """
            pipeline: health
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              flaky: { type: scripted, name: flaky, retry: { schedule: [0s, 1m, 1m, 1m] }, pause: { after: 2, probe: 10s } }
            """
        let observer = RecordingObserver()
        let (runner, done, _) = harness.start(try harness.pipelines(yaml, sinks: ["flaky": sink]), mode: .follow) { $0.observer = observer }
        let schedule: [Int64] = [0, 60_000, 60_000, 60_000]
        try runner.enqueueIngested(Self.rows(1...2, sinks: ["flaky"], schedule: schedule), counters: .init())
        #expect(observer.waitFor(.paused))
        let first = DeliveryID.make(eventID: "evt_1", pipeline: "health", sink: "flaky")
        let second = DeliveryID.make(eventID: "evt_2", pipeline: "health", sink: "flaky")
        #expect(try harness.store.detail(id: second)?.0.nextAttemptMs == t0 + 60_000)

        // The probe is due 10 s after the pause: the oldest waiting delivery goes out, though its
        // retry is not due for a minute. It fails; the next probe waits twice as long.
        clock.advance(byMs: 10_000)
        #expect(sink.waitFor(3))
        #expect(sink.requests.withLock { $0.last?.deliveryID } == first)
        #expect(try Self.waitUntil { try harness.store.sinkState(pipeline: "health", sink: "flaky").nextProbeMs == t0 + 30_000 })
        // The endpoint is back; new events arrive and wait; the next probe succeeds, resumes the
        // sink, and the backlog drains.
        failing.store(false, ordering: .relaxed)
        try runner.enqueueIngested(Self.rows(3...22, sinks: ["flaky"], schedule: schedule), counters: .init())
        #expect(try Self.waitUntil { try harness.store.counts()[.pending] == 20 })
        #expect(sink.count == 3, "a paused sink sent new events before its probe")
        clock.advance(byMs: 20_000)
        #expect(observer.waitFor(.resumed))
        #expect(sink.waitFor(24))
        // Due a minute after the pause began, so a minute after it ended (30 s later).
        #expect(try Self.waitUntil { try harness.store.detail(id: second)?.0.nextAttemptMs == t0 + 90_000 })
        clock.advance(byMs: 59_000)
        Thread.sleep(forTimeInterval: 0.1)
        #expect(sink.count == 24, "a retry ran before its frozen schedule said")
        clock.advance(byMs: 1_000)
        #expect(sink.waitFor(25))
        #expect(try Self.waitUntil { try harness.store.counts()[.succeeded] == 22 })
        let (summary, attempts) = try #require(try harness.store.detail(id: second))
        #expect(summary.status == .succeeded)
        #expect(attempts.count == 2, "the pause cost the delivery no attempt")
        runner.requestStop()
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(observer.kinds == [.paused, .resumed])
        #expect(try harness.store.sinkState(pipeline: "health", sink: "flaky").status == .healthy)
    }

    @Test(
        "a paused sink probes at its own growing interval, not when a delivery's retry falls due, across a restart",
        arguments: StoreEngineFixture.all)
    func probeFollowsItsOwnInterval(engine: StoreEngineFixture) throws {
        let harness = try RunnerHarness(events: [])
        let scope = try engine.makeScope()
        let store = try scope.open()
        let clock = harness.clock
        let t0 = clock.nowMs()
        let failing = Atomic<Bool>(true)
        let sink = ScriptedSink { _ in
            failing.load(ordering: .relaxed) ? .httpStatus(503, retryAfter: nil, snippet: "") : .httpStatus(200, retryAfter: nil, snippet: "")
        }
        // Retries ten minutes apart; probes after 20 s, then 40 s, then 80 s (probe_max).
        let yaml = """
            pipeline: health
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              slow: { type: scripted, name: slow, retry: { schedule: [0s, 10m, 10m] }, pause: { after: 2, probe: 20s, probe_max: 80s } }
            """
        let pipelines = try harness.pipelines(yaml, sinks: ["slow": sink])
        func start() -> (DeliveryRunner, Wakeup, RecordingObserver) {
            let observer = RecordingObserver()
            var options = DeliveryRunner.Options()
            options.mode = .follow
            options.observer = observer
            let runner = DeliveryRunner(pipelines: pipelines, store: store, clock: clock, options: options, logger: Logger(format: .logfmt) { _ in })
            let done = Wakeup()
            Thread.detachNewThread {
                _ = try? runner.run()
                done.signal()
            }
            return (runner, done, observer)
        }
        /// Moves the clock to `target` a second at a time, so a probe due early would go out at
        /// its own time rather than at the end of one jump.
        func advance(toMs target: Int64) {
            while clock.nowMs() < target {
                clock.advance(byMs: min(1_000, target - clock.nowMs()))
                Thread.sleep(forTimeInterval: 0.003)
            }
        }
        let schedule: [Int64] = [0, 600_000, 600_000]
        try store.enqueue(Self.rows(1...2, sinks: ["slow"], schedule: schedule), checkpoint: nil, nowMs: t0)
        var (runner, done, observer) = start()
        #expect(observer.waitFor(.paused, seconds: 30))
        #expect(sink.count == 2)
        // Both retries are due at t0 + 10 min; the probe is due at t0 + 20 s, and goes out then.
        advance(toMs: t0 + 19_000)
        #expect(sink.count == 2, "a probe went out before pause.probe")
        advance(toMs: t0 + 20_000)
        #expect(sink.waitFor(3, seconds: 30), "no probe 20 s after the pause: it waited for a delivery's retry")
        // It failed: the next one waits twice as long (40 s), and that is stored with the state.
        #expect(try Self.waitUntil(seconds: 30) { try store.sinkState(pipeline: "health", sink: "slow").nextProbeMs == t0 + 60_000 })
        runner.requestStop()
        #expect(done.wait(until: Date(timeIntervalSinceNow: 30)))

        // A restart keeps the probe's schedule.
        (runner, done, observer) = start()
        advance(toMs: t0 + 59_000)
        #expect(sink.count == 3, "a probe went out early after the restart")
        advance(toMs: t0 + 60_000)
        #expect(sink.waitFor(4, seconds: 30), "no probe at the interval stored before the restart")
        #expect(try Self.waitUntil(seconds: 30) { try store.sinkState(pipeline: "health", sink: "slow").nextProbeMs == t0 + 140_000 })
        // The endpoint is back: the next probe (at probe_max, 80 s) succeeds and the backlog drains,
        // long before the ten-minute retries.
        failing.store(false, ordering: .relaxed)
        advance(toMs: t0 + 140_000)
        #expect(observer.waitFor(.resumed, seconds: 30))
        #expect(try Self.waitUntil(seconds: 30) { try store.counts()[.succeeded] == 1 })
        // The other delivery's retry, due at t0 + 10 min, stood still for the 140 s pause.
        let other = DeliveryID.make(eventID: "evt_2", pipeline: "health", sink: "slow")
        #expect(try store.detail(id: other)?.0.nextAttemptMs == t0 + 740_000)
        clock.advance(byMs: 600_000)
        #expect(sink.waitFor(6, seconds: 30))
        #expect(try Self.waitUntil(seconds: 30) { try store.counts()[.succeeded] == 2 })
        let probes = sink.requests.withLock { $0.dropFirst(2).prefix(3).map(\.deliveryID) }
        let oldest = DeliveryID.make(eventID: "evt_1", pipeline: "health", sink: "slow")
        #expect(probes == [oldest, oldest, oldest], "each probe is the oldest waiting delivery")
        runner.requestStop()
        #expect(done.wait(until: Date(timeIntervalSinceNow: 30)))
    }

    @Test("a sink disabled in the store sends nothing; enabling it (as the CLI does) reaches a running runner, announced once")
    func enableReachesARunningRunner() throws {
        let harness = try RunnerHarness(events: [])
        let sink = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let yaml = """
            pipeline: health
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              hook: { type: scripted, name: hook, pause: false }
            """
        try harness.store.enqueue(Self.rows(1...3, sinks: ["hook"]), checkpoint: nil, nowMs: harness.clock.nowMs())
        // Disabled by hand before the run: `pause: false` turns automatic pausing off, not this.
        try harness.store.setSinkEnabled(pipeline: "health", sink: "hook", enabled: false, nowMs: harness.clock.nowMs(), by: "test")
        let observer = RecordingObserver()
        let (runner, done, _) = harness.start(try harness.pipelines(yaml, sinks: ["hook": sink]), mode: .follow) { $0.observer = observer }
        // The change was made by hand and not announced: the runner announces it, once.
        #expect(observer.waitFor(.disabled))
        try runner.enqueueIngested(Self.rows(4...5, sinks: ["hook"]), counters: .init())
        harness.clock.advance(byMs: 2_000)
        Thread.sleep(forTimeInterval: 0.1)
        #expect(sink.count == 0, "a disabled sink sent something")

        try harness.store.setSinkEnabled(pipeline: "health", sink: "hook", enabled: true, nowMs: harness.clock.nowMs(), by: "test")
        runner.noteNewWork()
        #expect(sink.waitFor(5))
        #expect(observer.waitFor(.enabled))
        harness.clock.advance(byMs: 2_000)
        Thread.sleep(forTimeInterval: 0.05)
        runner.requestStop()
        #expect(done.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(observer.kinds == [.disabled, .enabled])
        #expect(try harness.store.sinkState(pipeline: "health", sink: "hook").announced)
    }

    @Test("pause: keys are checked with path:line:col; pause: false turns it off")
    func pauseConfig() throws {
        func load(_ pause: String) -> ([PipelineDefinition], [Diagnostic]) {
            let yaml = """
                pipeline: p
                source: { type: stdin }
                sinks:
                  out: { type: stdout, \(pause) }
                """
            let (loaded, diagnostics) = PipelineLoader(environment: [:]).load(file: "p.yaml", text: yaml)
            return (loaded.map { [$0.0] } ?? [], diagnostics)
        }
        #expect(load("retry: { schedule: [0s] }").0.first?.sinks.first?.pause == .standard)
        #expect(load("pause: false").0.first?.sinks.first?.pause == nil)
        let custom = try #require(load("pause: { after: 3, failure_rate: 50%, window: 1m, min_attempts: 5, probe: 10s, probe_max: 5m, disable_after: 2d }").0.first?.sinks.first?.pause)
        #expect(custom.consecutiveFailures == 3 && custom.failureRate == 0.5 && custom.window == .seconds(60) && custom.minAttempts == 5)
        #expect(custom.probe == .seconds(10) && custom.probeMax == .seconds(300) && custom.disableAfter == .seconds(172_800))
        #expect(load("pause: { after: 0, disable_after: 0s }").0.first?.sinks.first?.pause?.consecutiveFailures == nil)
        for (bad, message) in [
            ("pause: { aftr: 3 }", "aftr"), ("pause: { failure_rate: 150% }", "failure_rate"), ("pause: { probe: 0s }", "pause.probe"),
            ("pause: { probe: 1m, probe_max: 10s }", "probe_max"), ("pause: maybe", "pause must be true or false"),
        ] {
            let (loaded, diagnostics) = load(bad)
            #expect(loaded.isEmpty, "\(bad) loaded")
            let error = try #require(diagnostics.first { $0.severity == .error }, "\(bad)")
            #expect(error.message.contains(message), "\(error.message)")
            #expect(error.location?.line == 4)
        }
    }

    @Test("the circuit: a change not written yet is dropped when a newer stored state is adopted, never announced later")
    func adoptedStateSupersedesAnUnwrittenChange() throws {
        var policy = PausePolicy.standard
        policy.consecutiveFailures = 1
        let circuit = SinkCircuit(pipeline: "p", sink: "s", policy: policy)
        #expect(circuit.judged(deliveryID: "a", success: false, nowMs: 1_000)?.kind == .paused)
        // Another node paused the sink first and announced it; this node adopts that before its
        // own write went out.
        var stored = circuit.state
        stored.changedAtMs = 900
        stored.version = 1
        stored.announced = true
        circuit.adopt(stored)
        #expect(!circuit.hasUnannounced)
        // A later failure is counted and written, with nothing to announce.
        circuit.judged(deliveryID: "b", success: false, nowMs: 2_000)
        let write = try #require(circuit.takeWrite())
        #expect(write.announce == nil)
        #expect(write.state.version == 1)
    }

    @Test("the circuit: a failure rate over the window pauses; probes double up to probe_max; failing for disable_after disables")
    func circuitTransitions() {
        var policy = PausePolicy.standard
        policy.consecutiveFailures = nil
        policy.failureRate = 0.5
        policy.window = .seconds(60)
        policy.minAttempts = 4
        policy.probe = .seconds(10)
        policy.probeMax = .seconds(35)
        policy.disableAfter = .seconds(3_600)
        let circuit = SinkCircuit(pipeline: "p", sink: "s", policy: policy)
        #expect(circuit.judged(deliveryID: "a", success: false, nowMs: 0) == nil)
        #expect(circuit.judged(deliveryID: "b", success: true, nowMs: 1_000) == nil)
        #expect(circuit.judged(deliveryID: "c", success: false, nowMs: 2_000) == nil, "3 attempts are below min_attempts")
        #expect(circuit.gate(nowMs: 2_000) == .open)
        let paused = circuit.judged(deliveryID: "d", success: false, nowMs: 3_000)
        #expect(paused?.kind == .paused, "3 of 4 failed: at least 50%")
        #expect(circuit.state.reason.contains("3 of 4"))
        #expect(circuit.gate(nowMs: 12_999) == .closed(untilMs: 13_000))
        // Probes at growing intervals: 10 s, then 20 s, then 35 s (the cap), then 35 s.
        var now: Int64 = 13_000
        for expected: Int64 in [20_000, 35_000, 35_000] {
            #expect(circuit.gate(nowMs: now) == .probe)
            circuit.probeStarted("probe-\(now)")
            #expect(circuit.gate(nowMs: now) == .closed(untilMs: nil), "one probe at a time")
            #expect(circuit.judged(deliveryID: "probe-\(now)", success: false, nowMs: now) == nil)
            #expect(circuit.state.probeIntervalMs == expected)
            now += expected
        }
        #expect(circuit.takeWrite() != nil)
        // Failing for an hour without a success (since 2 s, after the last success): the next
        // failed probe disables it.
        circuit.probeStarted("early")
        #expect(circuit.judged(deliveryID: "early", success: false, nowMs: 3_601_999) == nil)
        circuit.probeStarted("late")
        let disabled = circuit.judged(deliveryID: "late", success: false, nowMs: 3_602_000)
        #expect(disabled?.kind == .disabled)
        #expect(circuit.gate(nowMs: 10_000_000) == .closed(untilMs: nil), "disabled: no probes")
        #expect(circuit.judged(deliveryID: "x", success: true, nowMs: 3_700_000) == nil, "only enabling ends disabled")

        // A success while paused resumes; the counts start over.
        let other = SinkCircuit(pipeline: "p", sink: "t", policy: .standard)
        for n in 0..<10 { other.judged(deliveryID: "f\(n)", success: false, nowMs: Int64(n)) }
        #expect(other.state.status == .paused && other.state.consecutiveFailures == 10)
        #expect(other.judged(deliveryID: "in-flight", success: true, nowMs: 100)?.kind == .resumed)
        #expect(other.state.consecutiveFailures == 0 && other.gate(nowMs: 100) == .open)
        // pause: false: never on its own.
        let off = SinkCircuit(pipeline: "p", sink: "u", policy: nil)
        for n in 0..<100 { #expect(off.judged(deliveryID: "f\(n)", success: false, nowMs: Int64(n) * 86_400_000) == nil) }
        #expect(off.gate(nowMs: 0) == .open)
    }

    @Test(
        "two nodes on one PostgreSQL store: a dead sink pauses once, announced by one node, and neither node attempts it while paused",
        .enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func twoNodesPauseOnce() throws {
        let harness = try RunnerHarness(events: [])
        let url = try PostgresTestServer.freshDatabase()
        let clock = harness.clock
        let startMs = clock.nowMs()
        let dead = ScriptedSink { _ in .httpStatus(500, retryAfter: nil, snippet: "down") }
        let yaml = """
            pipeline: health
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              dead: { type: scripted, name: dead, pause: { after: 5, probe: 1h } }
            """
        let stores = try ["node-a", "node-b"].map { try PostgresDeliveryStore(url: url, options: StoreOptions(nodeID: $0)) }
        try stores[0].enqueue(Self.rows(1...40, sinks: ["dead"]), checkpoint: nil, nowMs: startMs)
        var runs: [(DeliveryRunner, Wakeup, RecordingObserver)] = []
        for store in stores {
            let observer = RecordingObserver()
            var options = DeliveryRunner.Options()
            options.mode = .follow
            options.observer = observer
            let runner = DeliveryRunner(
                pipelines: try harness.pipelines(yaml, sinks: ["dead": dead]), store: store, clock: clock, options: options,
                logger: Logger(format: .logfmt) { _ in })
            let done = Wakeup()
            Thread.detachNewThread {
                _ = try? runner.run()
                done.signal()
            }
            runs.append((runner, done, observer))
        }
        #expect(try Self.waitUntil { try stores[1].sinkState(pipeline: "health", sink: "dead").status == .paused })
        // Both nodes learn of it (NOTIFY, or their next refresh) and stop.
        clock.advance(byMs: 1_500)
        Thread.sleep(forTimeInterval: 0.3)
        let attemptsAtPause = dead.count
        for _ in 0..<5 {
            clock.advance(byMs: 60_000)
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(dead.count == attemptsAtPause, "a paused sink was attempted before its first probe (1 h)")
        #expect(attemptsAtPause < 40, "every delivery was attempted: nothing paused")
        for (runner, done, _) in runs {
            runner.requestStop()
            #expect(done.wait(until: Date(timeIntervalSinceNow: 10)))
        }
        let announced = runs.map { $0.2.kinds.filter { $0 == .paused }.count }
        #expect(announced.reduce(0, +) == 1, "the pause was announced \(announced) times across the nodes")
        #expect(try stores[0].list(DeliveryQuery(status: .failed, limit: 100)).isEmpty)
    }
}
