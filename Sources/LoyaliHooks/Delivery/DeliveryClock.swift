import Foundation

/// Time for the delivery runner, injectable so tests can walk a two-hour retry schedule in
/// milliseconds.
public protocol DeliveryClock: Sendable {
    /// Milliseconds since the Unix epoch.
    func nowMs() -> Int64
    /// Blocks the calling thread (a dedicated runner thread, never the cooperative pool) until the
    /// clock reaches `deadlineMs` or `wakeup` is signalled, whichever comes first.
    func sleep(untilMs deadlineMs: Int64, wakeup: Wakeup)
}

/// A condition the runner sleeps on; signalled when new work arrives, a result comes back or a
/// shutdown is requested, so the runner never polls.
public final class Wakeup: @unchecked Sendable {
    // NSCondition is thread-safe by design; the flag is only touched while it is locked.
    private let condition = NSCondition()
    private var signalled = false

    public init() {}

    /// Wakes the sleeper (or makes its next sleep return at once).
    public func signal() {
        condition.lock()
        signalled = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until signalled or until `date` (`nil`: no deadline). Returns whether it was signalled.
    @discardableResult
    public func wait(until date: Date?) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !signalled {
            if let date {
                if !condition.wait(until: date) { break }
            } else {
                condition.wait()
            }
        }
        let was = signalled
        signalled = false
        return was
    }
}

/// The real clock.
public struct SystemClock: DeliveryClock {
    public init() {}

    public func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    public func sleep(untilMs deadlineMs: Int64, wakeup: Wakeup) {
        let remaining = deadlineMs - nowMs()
        guard remaining > 0 else { return }
        wakeup.wait(until: Date(timeIntervalSinceNow: Double(remaining) / 1000))
    }
}

/// A clock that only moves when told to. `sleep` returns as soon as the clock is advanced past the
/// deadline (or the sleeper is woken), so tests run the whole retry schedule without waiting.
public final class ManualClock: DeliveryClock, @unchecked Sendable {
    // All state is guarded by `condition`.
    private let condition = NSCondition()
    private var now: Int64
    private var sleepers: [Wakeup] = []

    /// Starts at `startMs`.
    public init(startMs: Int64 = 1_700_000_000_000) { now = startMs }

    public func nowMs() -> Int64 {
        condition.lock()
        defer { condition.unlock() }
        return now
    }

    /// Moves time forward and wakes every sleeper so it can re-check its deadline.
    public func advance(byMs delta: Int64) {
        condition.lock()
        now += delta
        let waiting = sleepers
        condition.unlock()
        for sleeper in waiting { sleeper.signal() }
    }

    public func sleep(untilMs deadlineMs: Int64, wakeup: Wakeup) {
        condition.lock()
        if now >= deadlineMs {
            condition.unlock()
            return
        }
        sleepers.append(wakeup)
        condition.unlock()
        // Real time bounds the wait so a test that forgets to advance fails instead of hanging.
        wakeup.wait(until: Date(timeIntervalSinceNow: 5))
        condition.lock()
        sleepers.removeAll { $0 === wakeup }
        condition.unlock()
    }
}
