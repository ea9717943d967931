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

    @Test("Retry-After accepts the obsolete RFC 850 and asctime date forms too")
    func retryAfterObsoleteDates() {
        let at: Int64 = 784_111_777_000
        #expect(RetryAfter.delayMs("Sunday, 06-Nov-94 08:49:47 GMT", nowMs: at) == 10_000)
        #expect(RetryAfter.delayMs("Sun Nov  6 08:49:47 1994", nowMs: at) == 10_000)
        #expect(RetryAfter.delayMs("Sun Nov 16 08:49:37 1994", nowMs: at) == 864_000_000)
        // A two-digit year more than 50 years ahead is the same year in the past century.
        #expect(RetryAfter.delayMs("Monday, 06-Nov-95 08:49:37 GMT", nowMs: at) == 31_536_000_000)
        #expect(RetryAfter.delayMs("Friday, 06-Nov-99 08:49:37 GMT", nowMs: 4_102_444_800_000) == 0)
    }

    /// Hostile or broken `Retry-After` values a receiver may send. None may trap; dates that are
    /// not HTTP-dates are absent, and huge delays are capped by the policy.
    @Test("hostile Retry-After values are absent or capped, never a crash", arguments: [
        "Sun, 06 Nov 999999999 08:49:37 GMT", "Sun, 06 Nov -999999999 08:49:37 GMT", "Sun, 06 Nov -1994 08:49:37 GMT",
        "Sun, 06 Nov 9223372036854775807 08:49:37 GMT", "Sun, 06 Nov 1994 99999999999999999999:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:99999999999999999999 GMT", "Sun, 06 Nov 1994 -8:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 99 Nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 0000 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Nov 1994 08:49 GMT", "Sunday, 06-Nov-9999 08:49:37 GMT",
        "Sun Nov  6 08:49:37 99999999999", "-1", "+5", "1.5", "", " ", "0x10", "１２",
    ])
    func hostileRetryAfter(value: String) {
        #expect(RetryAfter.delayMs(value, nowMs: now) == nil)
        let capped = RetryDecision(policy: RetryPolicy(schedule: [.zero, .seconds(5)], jitter: 0.1, maxRetryAfter: .seconds(60)))
        #expect(capped.outcome(for: .httpStatus(429, retryAfter: value, snippet: ""), attemptInRound: 1, nowMs: now, random: { 0.5 })
            == .retry(atMs: now + 5_000))
    }

    @Test("far-future Retry-After values saturate and are clamped to max_retry_after", arguments: [
        "9223372036854775", "9223372036854775808", "99999999999999999999999999999999999999", "Fri, 31 Dec 9999 23:59:60 GMT",
    ])
    func hugeRetryAfterIsCapped(value: String) {
        #expect((RetryAfter.delayMs(value, nowMs: now) ?? 0) > 3_600_000)
        let capped = RetryDecision(policy: RetryPolicy(schedule: [.zero, .seconds(5)], jitter: 0, maxRetryAfter: .seconds(60)))
        #expect(capped.outcome(for: .httpStatus(503, retryAfter: value, snippet: ""), attemptInRound: 1, nowMs: now) == .retry(atMs: now + 60_000))
        let longest = RetryDecision(policy: RetryPolicy(schedule: [.zero, .zero], jitter: 0, maxRetryAfter: .maximumRetryDelay))
        #expect(longest.outcome(for: .httpStatus(429, retryAfter: value, snippet: ""), attemptInRound: 1, nowMs: now)
            == .retry(atMs: now + Duration.maximumRetryDelay.totalMilliseconds))
    }

    @Test("scheduling saturates: a stored schedule or clock at the Int64 edge cannot trap")
    func schedulingSaturates() {
        let huge = RetryDecision(policy: RetryPolicy(schedule: [.zero, .milliseconds(Int64.max)], jitter: 1, maxRetryAfter: .seconds(1)))
        let failure = AttemptResult.httpStatus(500, retryAfter: nil, snippet: "")
        #expect(huge.outcome(for: failure, attemptInRound: 1, nowMs: now, random: { 0.999 }) == .retry(atMs: .max))
        #expect(huge.outcome(for: failure, attemptInRound: 1, nowMs: .max - 1, random: { 0.5 }) == .retry(atMs: .max))
        #expect(Duration.seconds(Int64.max).totalMilliseconds == .max)
        #expect(Duration.seconds(Int64.min).totalMilliseconds == .min)
        #expect(SQLiteDeliveryStore.decode(schedule: "0,99999999999999999999999") == [0, .max])
        #expect(Int64(saturating: 1e300) == .max && Int64(saturating: -1e300) == .min && Int64(saturating: .nan) == 0)
    }

    @Test("durations have limits, checked before any conversion", arguments: [
        "9223372036854775808s", "99999999999999999d", "106751991160d", "36501d", "99999999999999999999999999999999999999999ms",
        "1e400s", "inf s", "nan",
    ])
    func durationLimits(text: String) {
        #expect(Duration.parse(config: text) == nil)
    }

    @Test("each limit is inclusive, and a longer value says which limit applies")
    func durationMaxima() {
        #expect(Duration.parse(config: "1d", maximum: .maximumWait) == .success(.seconds(86_400)))
        #expect(Duration.parse(config: "24h", maximum: .maximumWait) == .success(.seconds(86_400)))
        #expect(Duration.parse(config: "86400001ms", maximum: .maximumWait) == .failure(.tooLong(maximum: .maximumWait)))
        #expect(Duration.parse(config: "365d", maximum: .maximumRetryDelay) == .success(.seconds(365 * 86_400)))
        #expect(Duration.parse(config: "366d", maximum: .maximumRetryDelay) == .failure(.tooLong(maximum: .maximumRetryDelay)))
        #expect(Duration.parse(config: "36500d") == .seconds(36_500 * 86_400))
        #expect(Duration.parse(config: "soon", maximum: .maximumWait) == .failure(.malformed))
        #expect(Duration.lookBackCutoffMs("1h", name: "--since", nowMs: now) == .success(now - 3_600_000))
        #expect(Duration.lookBackCutoffMs("36500d", name: "--since", nowMs: 0) == .success(-3_153_600_000_000))
        #expect(Duration.lookBackCutoffMs("99999999999999999999d", name: "--since", nowMs: now)
            == .failure(Duration.LookBackError(message: "--since must be at most 36500d, not '99999999999999999999d'")))
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

// MARK: - plan: the retry timeline

@Suite("Retry timeline (plan)")
struct RetryTimelineTests {
    @Test("the guide's table: attempt, delay and total, jitter bounds, latest with timeouts")
    func guideTable() {
        let policy = RetryPolicy(schedule: [.zero, .seconds(60), .seconds(300), .seconds(1_800), .seconds(7_200)], jitter: 0.1, maxRetryAfter: .seconds(3_600))
        let timeline = RetryTimeline(policy: policy, attemptTimeout: .seconds(10))
        #expect(timeline.rows.map(\.delayMs) == [0, 60_000, 300_000, 1_800_000, 7_200_000])
        #expect(timeline.rows.map(\.totalMs) == [0, 60_000, 360_000, 2_160_000, 9_360_000])
        #expect(timeline.rows[0].delayRangeMs == 0...0, "the first attempt is never jittered")
        #expect(timeline.rows[1].delayRangeMs == 54_000...66_000)
        #expect(timeline.rows[4].totalRangeMs == 8_424_000...(10_296_000 + 40_000))
        #expect(timeline.latestMs == 10_336_000)
        // Retry-After can stretch a wait up to max_retry_after (1h): 1h, 1h, 1h, 2h12m plus timeouts.
        #expect(timeline.latestWithRetryAfterMs == 3 * 3_600_000 + 7_920_000 + 40_000)
        #expect(RetryTimeline.text(ms: 10_336_000) == "2h 52m 16s")
        #expect(RetryTimeline.text(ms: 1_500) == "1.5s")
    }

    @Test("the jitter bounds are those RetryDecision can draw")
    func boundsMatchDecisions() {
        let policy = RetryPolicy(schedule: [.seconds(5), .seconds(100)], jitter: 0.25, maxRetryAfter: .seconds(1))
        let timeline = RetryTimeline(policy: policy, attemptTimeout: .zero)
        #expect(timeline.rows[0].totalMs == 5_000, "the first attempt waits schedule[0]")
        for random in [0.0, 0.999_999] {
            guard case .retry(let at) = RetryDecision(policy: policy).outcome(
                for: .httpStatus(500, retryAfter: nil, snippet: ""), attemptInRound: 1, nowMs: 0, random: { random })
            else { Issue.record("expected a retry"); return }
            #expect(timeline.rows[1].delayRangeMs.contains(at))
        }
        #expect(timeline.rows[1].delayRangeMs == 75_000...125_000)
    }

    @Test("loyali-hooks plan prints each sink's timeline without secrets set")
    func planCommand() throws {
        let result = try CLI.run(["plan", "notifications", "--now", "1700000000"], unsetting: ["NOTIFY_SECRET"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdoutLines
        #expect(lines.contains { $0.hasPrefix("push (http ") && $0.contains("schedule [0s, 10s, 1m, 5m, 30m, 2h], jitter 10%") }, "\(result.stdout)")
        #expect(lines.contains("  2        10s          9s–11s         10s         2023-11-14T22:13:30Z  2023-11-14T22:13:36Z"), "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("  last attempt: by 2023-11-15T01:05:32Z (2h 52m 12s after creation)") }, "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("  after attempt 6 fails: the delivery is marked failed") }, "\(result.stdout)")

        let json = try CLI.run(["plan", "pipelines/fulfillment.yaml", "--sink", "audit", "--now", "1700000000", "--json"], unsetting: ["FULFILLMENT_SECRET"])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdoutLines.count == 1)
        let object = try #require(try JSONParser.parse(json.stdoutLines[0]).objectValue)
        #expect(object["sink"] == .string("audit"))
        #expect(object["attempts"]?.arrayValue?.count == 5)
        #expect(object["last_attempt_by"] == .string("2023-11-15T00:49:20Z"))
        #expect(object["last_attempt_by_with_retry_after"] == nil, "a file sink hears no Retry-After")

        let unknown = try CLI.run(["plan", "notifications", "--sink", "psuh"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no sink 'psuh'; did you mean 'push'?"), "\(unknown.stderr)")
    }
}
