/// Decides, after an attempt, whether a delivery succeeded, waits for another attempt, or failed.
///
/// The schedule lists the delay before each attempt, so after attempt *n* of a round the next
/// delay is `schedule[n]`; when the schedule runs out the delivery is `failed` and can be resent
/// (a resend starts a new round). 410 Gone stops at once; a `Retry-After` on 429/503 is honoured up
/// to the policy's cap; jitter spreads retries so a recovering endpoint is not hit all at once.
public struct RetryDecision: Sendable {
    /// What happens next.
    public enum Outcome: Sendable, Equatable {
        case succeeded
        case retry(atMs: Int64)
        case failed(reason: String)
    }

    public let policy: RetryPolicy

    public init(policy: RetryPolicy) { self.policy = policy }

    /// Judges `result` of the attempt that was number `attemptInRound` (1-based) of the current
    /// round. `random` returns a value in 0..<1 for jitter.
    public func outcome(
        for result: AttemptResult, attemptInRound: Int, nowMs: Int64, random: () -> Double = { Double.random(in: 0..<1) }
    ) -> Outcome {
        if result.isSuccess { return .succeeded }
        var minimumDelayMs: Int64 = 0
        switch result {
        case .httpStatus(410, _, _):
            return .failed(reason: "410 Gone: the endpoint asked not to be sent more deliveries")
        case .httpStatus(let status, let retryAfter, _) where status == 429 || status == 503:
            if let retryAfter, let delay = RetryAfter.delayMs(retryAfter, nowMs: nowMs) {
                minimumDelayMs = min(delay, max(0, policy.maxRetryAfter.totalMilliseconds))
            }
        case .failure(let failure) where !failure.retryable:
            return .failed(reason: failure.description)
        default:
            break
        }
        guard attemptInRound < policy.schedule.count else {
            return .failed(reason: "no attempts left after \(attemptInRound) of \(policy.schedule.count)")
        }
        // The schedule may come from the store, written by another version: nothing here may trap.
        var delayMs = policy.schedule[attemptInRound].totalMilliseconds
        if policy.jitter > 0, delayMs > 0 {
            let spread = Double(delayMs) * policy.jitter
            delayMs = delayMs.saturatingAdd(Int64(saturating: (random() * 2 - 1) * spread))
        }
        return .retry(atMs: nowMs.saturatingAdd(max(delayMs, minimumDelayMs, 0)))
    }
}
