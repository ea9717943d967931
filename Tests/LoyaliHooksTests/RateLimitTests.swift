import Foundation
import Synchronization
import Testing
@testable import LoyaliHooks

@Suite("Rate limits: the token bucket, backing off on 429, pacing at the receiver")
struct RateLimitTests {
    @Test("50/s, 600/m and 3000/h parse; the default burst is 50 ms worth, at least 1")
    func parsing() throws {
        let perSecond = try #require(RateLimit.parse("50/s"))
        #expect(perSecond.perMs == 0.05)
        #expect(perSecond.burst == 2)
        #expect(try #require(RateLimit.parse("600/m")).perMs == 0.01)
        #expect(try #require(RateLimit.parse("600/m")).burst == 1)
        #expect(try #require(RateLimit.parse("3000/h")).burst == 1)
        #expect(try #require(RateLimit.parse("2.5/s")).description == "2.5/s")
        for bad in ["50", "50/d", "/s", "0/s", "-1/s", "fast/s", "50/s/s", "1e3/s"] {
            #expect(RateLimit.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("a bucket of 2 at 20/s lets 2 through at once, then one per 50 ms, and says when the next is there")
    func bucket() {
        var bucket = TokenBucket(perMs: 0.02, capacity: 2, nowMs: 1_000)
        #expect(take(&bucket, nowMs: 1_000))
        #expect(take(&bucket, nowMs: 1_000))
        #expect(!take(&bucket, nowMs: 1_000))
        #expect(readyAtMs(&bucket, nowMs: 1_000) == 1_050)
        #expect(!take(&bucket, nowMs: 1_049))
        #expect(readyAtMs(&bucket, nowMs: 1_049) == 1_050)
        #expect(take(&bucket, nowMs: 1_050))
        // A quiet spell fills it to its size, no further.
        #expect(take(&bucket, nowMs: 10_000))
        #expect(take(&bucket, nowMs: 10_000))
        #expect(!take(&bucket, nowMs: 10_000))
        // Halving the rate from now on: the next token takes twice as long.
        bucket.setRate(perMs: 0.01, nowMs: 10_000)
        #expect(readyAtMs(&bucket, nowMs: 10_000) == 10_100)
    }

    @Test("any second of a bucket driven as fast as it allows holds at most rate + burst - 1 attempts")
    func bucketWindows() {
        for (perSecond, burst) in [(20.0, 2), (50.0, 5), (7.0, 1), (333.0, 33)] {
            var bucket = TokenBucket(perMs: perSecond / 1_000, capacity: burst, nowMs: 0)
            var sent: [Int64] = []
            var now: Int64 = 0
            while now < 5_000 {
                if bucket.take(nowMs: now) { sent.append(now) } else { now = bucket.readyAtMs(nowMs: now) }
            }
            var most = 0
            for (index, start) in sent.enumerated() {
                most = max(most, sent[index...].prefix { $0 < start + 1_000 }.count)
            }
            #expect(most == Int(perSecond) + burst - 1, "\(perSecond)/s burst \(burst)")
            #expect(Double(most) <= perSecond * 1.1)
            #expect(sent.count >= Int(perSecond * 5), "the full rate is reached: \(sent.count) in 5 s")
        }
    }

    @Test("a 429 without Retry-After halves the pace once per round trip; it recovers a tenth per second")
    func throttle() {
        var throttle = SinkThrottle()
        #expect(throttle.inFlightLimit(32, nowMs: 0) == 32)
        #expect(refused(&throttle, startedAtMs: 900, nowMs: 1_000))
        #expect(throttle.inFlightLimit(32, nowMs: 1_000) == 16)
        // Attempts sent before the halving answer 429 too: they say nothing new.
        #expect(!refused(&throttle, startedAtMs: 950, nowMs: 1_010))
        #expect(throttle.share(nowMs: 1_010) > 0.49)
        #expect(refused(&throttle, startedAtMs: 1_010, nowMs: 1_010))
        #expect(throttle.inFlightLimit(32, nowMs: 1_010) == 8)
        // Back up by a tenth of the full pace per second: from about 1/4 to full in 7.5 s.
        #expect(abs(throttle.share(nowMs: 2_010) - 0.3505) < 1e-9)
        #expect(throttle.isSlowed(nowMs: 8_000))
        #expect(!throttle.isSlowed(nowMs: 8_510))
        #expect(throttle.inFlightLimit(32, nowMs: 9_000) == 32)
        // Never below 1/64, and never below one slot.
        for step in 0..<20 { throttle.refused(startedAtMs: 20_000 + Int64(step), nowMs: 20_000 + Int64(step)) }
        #expect(throttle.share(nowMs: 20_019) == SinkThrottle.floor)
        #expect(throttle.inFlightLimit(4, nowMs: 20_019) == 1)
    }

    @Test("rate_limit and its mapping form load; mistakes are errors at path:line:col")
    func config() throws {
        let loader = PipelineLoader(environment: ["SECRET": "whsec_rate_test"])
        func load(_ sink: String) -> (PipelineDefinition?, [String]) {
            let yaml = """
                pipeline: paced
                source: { type: stdin }
                sign: { secrets: ["${SECRET}"] }
                sinks:
                  hook: \(sink)
                """
            let (loaded, diagnostics) = loader.load(file: "paced.yaml", text: yaml)
            return (loaded?.0, diagnostics.map(\.headline))
        }
        let (plain, _) = load(#"{ type: http, url: "http://127.0.0.1:9/h", rate_limit: 50/s }"#)
        #expect(plain?.sinks[0].rateLimit == RateLimit(count: 50, periodMs: 1_000))
        let (mapped, _) = load(#"{ type: http, url: "http://127.0.0.1:9/h", rate_limit: { rate: 600/m, burst: 10 } }"#)
        #expect(mapped?.sinks[0].rateLimit == RateLimit(count: 600, periodMs: 60_000, burst: 10))
        let (bad, errors) = load(#"{ type: http, url: "http://127.0.0.1:9/h", rate_limit: 50/d }"#)
        #expect(bad == nil)
        #expect(errors.contains { $0.hasSuffix("paced.yaml:5:64: error: rate_limit must be a rate such as 50/s, 600/m or 3000/h, not '50/d'") }, "\(errors)")
        let (_, burstErrors) = load(#"{ type: http, url: "http://127.0.0.1:9/h", rate_limit: { rate: 5/s, brust: 2 } }"#)
        #expect(burstErrors.contains { $0.contains("paced.yaml:5:") && $0.contains("brust") }, "\(burstErrors)")
        let (_, tooFast) = load(#"{ type: stdout, rate_limit: 1000000/s }"#)
        #expect(tooFast.contains { $0.contains("paced.yaml:5:") && $0.contains("above the most") }, "\(tooFast)")
    }

    static func events(_ count: Int) -> [String] {
        (1...count).map {
            #"{"id":"evt_paced_\#($0)","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{"customer_id":"c\#($0 % 3)","seq":\#($0)}}"#
        }
    }

    @Test("a rate-limited lane waits in the timer heap for its next token: one attempt per 100 ms at 10/s on a fake clock")
    func laneWaitsForTokens() throws {
        let harness = try RunnerHarness(events: Self.events(4))
        let sink = ScriptedSink { _ in .httpStatus(200, retryAfter: nil, snippet: "") }
        let pipelines = try harness.pipelines("""
            pipeline: paced
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              hook: { type: scripted, name: hook, rate_limit: 10/s }
            """, sinks: ["hook": sink])
        let (runner, done, _) = harness.start(pipelines, mode: .follow)
        defer {
            runner.requestStop()
            done.wait(until: Date(timeIntervalSinceNow: 5))
        }
        #expect(sink.waitFor(1))
        for sent in 1...3 {
            // The clock stands still: no token, however long the lane waits in real time.
            Thread.sleep(forTimeInterval: 0.05)
            #expect(sink.count == sent)
            harness.clock.advance(byMs: 99)
            Thread.sleep(forTimeInterval: 0.02)
            #expect(sink.count == sent, "a token takes 100 ms")
            harness.clock.advance(byMs: 1)
            #expect(sink.waitFor(sent + 1), "the lane woke when its token was there")
        }
    }

    @Test("a 429 without Retry-After halves the lane's in-flight limit; one with Retry-After does not")
    func tooManyRequestsSlowsTheLane() throws {
        for retryAfter in ["30", nil] as [String?] {
            let harness = try RunnerHarness(events: Self.events(20))
            // Every attempt is held; once all 8 slots are out, the first is refused. (Refused at
            // once, it was judged before the others started whenever ingest handed over fewer
            // than 8 deliveries at first, as its one-line first batch does.)
            let sink = ScriptedSink { _ in nil }
            let pipelines = try harness.pipelines(DeliveryRunnerTests.yaml(), sinks: ["hook": sink])
            let (runner, done, _) = harness.start(pipelines, mode: .follow)
            defer {
                for release in sink.held.withLock({ $0 }) { release() }
                runner.requestStop()
                done.wait(until: Date(timeIntervalSinceNow: 5))
            }
            // 8 slots: the refused attempt and 7 held ones.
            #expect(sink.waitFor(8))
            let refuse = try #require(sink.heldAnswers.withLock { $0.first })
            _ = sink.held.withLock { $0.removeFirst() }
            refuse(.httpStatus(429, retryAfter: retryAfter, snippet: ""))
            #expect(harness.waitForRecordedAttempts(1))
            Thread.sleep(forTimeInterval: 0.05)
            let held = sink.held.withLock { $0 }
            if retryAfter == nil {
                #expect(sink.count == 8, "7 in flight, over the halved limit of 4: nothing more starts")
                // Down to 4 in flight: still at the limit. Down to 3: one more starts.
                for release in held.prefix(3) { release() }
                #expect(harness.waitForCounts { $0[.succeeded] == 3 })
                Thread.sleep(forTimeInterval: 0.05)
                #expect(sink.count == 8)
                held[3]()
                #expect(sink.waitFor(9))
                Thread.sleep(forTimeInterval: 0.05)
                #expect(sink.count == 9)
            } else {
                #expect(sink.count == 9, "Retry-After says when to come back: the pace is left alone")
            }
        }
    }

    @Test("a receiver sees at most the limit over every sliding second (20/s for 3 s, through loopback HTTP)")
    func receiverWindows() throws {
        let receiver = try RecordingReceiver(secret: "whsec_rate_test")
        let directory = NSTemporaryDirectory() + "loyali-rate-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let events = (1...64).map {
            #"{"id":"evt_rate_\#($0)","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{"customer_id":"c\#($0)"}}"#
        }
        try (events.joined(separator: "\n") + "\n").write(toFile: directory + "/events.jsonl", atomically: true, encoding: .utf8)
        let loader = PipelineLoader(environment: ["SECRET": "whsec_rate_test", "EVENTS": directory + "/events.jsonl"])
        let (loaded, diagnostics) = loader.load(file: "paced.yaml", text: """
            pipeline: paced
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              hook: { type: http, url: "http://127.0.0.1:\(receiver.port)/hooks", rate_limit: 20/s, max_in_flight: 64 }
            """)
        let pipeline = try #require(loaded?.0, "\(diagnostics.map(\.headline))")
        let store = try SQLiteDeliveryStore(directory: directory + "/state")
        let runner = DeliveryRunner(pipelines: [pipeline], store: store, options: DeliveryRunner.Options(), logger: Logger(format: .logfmt) { _ in })
        let counters = try runner.run()
        #expect(counters.delivered == 64)
        let arrivals = receiver.received.map(\.receivedAtMs).sorted()
        try #require(arrivals.count == 64)
        var most = 0
        for (index, start) in arrivals.enumerated() {
            most = max(most, arrivals[index...].prefix { $0 < start + 1_000 }.count)
        }
        // 20/s with its default burst of 1: at most 20 in any second; never over 22 (+10%).
        #expect(most <= 22, "\(most) attempts arrived within one second")
        let spanMs = arrivals.last! - arrivals.first!
        #expect(spanMs >= 2_900, "64 attempts at 20/s take at least 3.05 s after the first 2, not \(spanMs) ms")
    }
}

// `#expect` cannot call mutating methods on its operands; these take the value out first.
private func take(_ bucket: inout TokenBucket, nowMs: Int64) -> Bool { bucket.take(nowMs: nowMs) }
private func readyAtMs(_ bucket: inout TokenBucket, nowMs: Int64) -> Int64 { bucket.readyAtMs(nowMs: nowMs) }
private func refused(_ throttle: inout SinkThrottle, startedAtMs: Int64, nowMs: Int64) -> Bool {
    throttle.refused(startedAtMs: startedAtMs, nowMs: nowMs)
}
