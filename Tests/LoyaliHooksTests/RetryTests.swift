import Foundation
import Testing
@testable import LoyaliHooks

@Suite("Retry policy")
struct RetryTests {
    let now: Int64 = 1_700_000_000_000
    let decision = RetryDecision(policy: .standard)

    @Test("the guide's schedule: 1m, 5m, 30m, 2h after attempts 1–4, failed after the 5th")
    func guideSchedule() {
        let failure = AttemptResult.httpStatus(500, retryAfter: nil, snippet: "")
        let expectedDelays: [Int64] = [60_000, 300_000, 1_800_000, 7_200_000]
        for (index, delay) in expectedDelays.enumerated() {
            #expect(decision.outcome(for: failure, attemptInRound: index + 1, nowMs: now) == .retry(atMs: now + delay))
        }
        guard case .failed = decision.outcome(for: failure, attemptInRound: 5, nowMs: now) else {
            Issue.record("the 5th failure must be final")
            return
        }
    }

    @Test("only 2xx succeeds; 3xx is a failure that is retried")
    func statusClasses() {
        #expect(decision.outcome(for: .httpStatus(204, retryAfter: nil, snippet: ""), attemptInRound: 1, nowMs: now) == .succeeded)
        #expect(decision.outcome(for: .accepted, attemptInRound: 1, nowMs: now) == .succeeded)
        #expect(decision.outcome(for: .httpStatus(302, retryAfter: nil, snippet: ""), attemptInRound: 1, nowMs: now)
            == .retry(atMs: now + 60_000))
    }

    @Test("410 Gone stops retrying at once")
    func gone() {
        guard case .failed(let reason) = decision.outcome(for: .httpStatus(410, retryAfter: nil, snippet: ""), attemptInRound: 1, nowMs: now)
        else {
            Issue.record("410 must fail immediately")
            return
        }
        #expect(reason.contains("410"))
    }

    @Test("Retry-After on 429 and 503 is honoured up to the cap")
    func retryAfter() {
        let policy = RetryPolicy(schedule: [.zero, .seconds(1), .seconds(1)], jitter: 0, maxRetryAfter: .seconds(120))
        let decision = RetryDecision(policy: policy)
        #expect(decision.outcome(for: .httpStatus(429, retryAfter: "30", snippet: ""), attemptInRound: 1, nowMs: now)
            == .retry(atMs: now + 30_000))
        #expect(decision.outcome(for: .httpStatus(503, retryAfter: "86400", snippet: ""), attemptInRound: 1, nowMs: now)
            == .retry(atMs: now + 120_000))
        // Retry-After on other statuses is not a promise the server made; the schedule applies.
        #expect(decision.outcome(for: .httpStatus(500, retryAfter: "30", snippet: ""), attemptInRound: 1, nowMs: now)
            == .retry(atMs: now + 1_000))
        #expect(decision.outcome(for: .httpStatus(429, retryAfter: "soon", snippet: ""), attemptInRound: 1, nowMs: now)
            == .retry(atMs: now + 1_000))
    }

    @Test("non-retryable failures fail at once; retryable ones follow the schedule")
    func failureKinds() {
        let fatal = DeliveryFailure(errorClass: "plugin", message: "bad payload", retryable: false)
        guard case .failed = decision.outcome(for: .failure(fatal), attemptInRound: 1, nowMs: now) else {
            Issue.record("non-retryable must fail")
            return
        }
        let transient = DeliveryFailure(errorClass: "timeout", message: "10 s", retryable: true)
        #expect(decision.outcome(for: .failure(transient), attemptInRound: 2, nowMs: now) == .retry(atMs: now + 300_000))
    }

    @Test("jitter moves each delay within ± the percentage")
    func jitter() {
        var policy = RetryPolicy.standard
        policy.jitter = 0.1
        let decision = RetryDecision(policy: policy)
        let failure = AttemptResult.httpStatus(500, retryAfter: nil, snippet: "")
        #expect(decision.outcome(for: failure, attemptInRound: 1, nowMs: now, random: { 0 }) == .retry(atMs: now + 54_000))
        #expect(decision.outcome(for: failure, attemptInRound: 1, nowMs: now, random: { 0.5 }) == .retry(atMs: now + 60_000))
        #expect(decision.outcome(for: failure, attemptInRound: 1, nowMs: now, random: { 0.999_999 }) == .retry(atMs: now + 65_999))
    }

    @Test("Retry-After accepts delta-seconds and HTTP dates")
    func retryAfterParsing() {
        #expect(RetryAfter.delayMs("120", nowMs: 0) == 120_000)
        #expect(RetryAfter.delayMs(" 5 ", nowMs: 0) == 5_000)
        let date = RetryAfter.imfFixdateMs("Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(date == 784_111_777_000)
        #expect(RetryAfter.delayMs("Sun, 06 Nov 1994 08:49:47 GMT", nowMs: 784_111_777_000) == 10_000)
        #expect(RetryAfter.delayMs("Sun, 06 Nov 1994 08:49:27 GMT", nowMs: 784_111_777_000) == 0)
        #expect(RetryAfter.delayMs("-1", nowMs: 0) == nil)
        #expect(RetryAfter.delayMs("tomorrow", nowMs: 0) == nil)
    }

    @Test("durations in config syntax")
    func durations() {
        #expect(Duration.parse(config: "500ms") == .milliseconds(500))
        #expect(Duration.parse(config: "10s") == .seconds(10))
        #expect(Duration.parse(config: "1.5m") == .seconds(90))
        #expect(Duration.parse(config: "2h") == .seconds(7_200))
        #expect(Duration.parse(config: "1d") == .seconds(86_400))
        #expect(Duration.parse(config: "0") == .zero)
        #expect(Duration.parse(config: "5") == nil)
        #expect(Duration.parse(config: "m") == nil)
        #expect(Duration.parse(config: "5 minutes") == nil)
        #expect(Duration.seconds(7_200).configDescription == "2h")
    }

    @Test("the manual clock wakes a sleeper when advanced past its deadline")
    func manualClock() async {
        let clock = ManualClock(startMs: 0)
        let wakeup = Wakeup()
        let done = Wakeup()
        Thread.detachNewThread {
            clock.sleep(untilMs: 3_600_000, wakeup: wakeup)
            done.signal()
        }
        clock.advance(byMs: 3_600_000)
        #expect(done.wait(until: Date(timeIntervalSinceNow: 2)))
        #expect(clock.nowMs() == 3_600_000)
    }
}
