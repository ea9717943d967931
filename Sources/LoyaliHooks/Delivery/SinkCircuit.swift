/// One sink's circuit breaker, which its lanes consult before starting an attempt.
///
/// - **Closed** (healthy): attempts go out as usual; failures are counted.
/// - **Open** (paused): after ``PausePolicy/consecutiveFailures`` failed attempts in a row, or a
///   failure rate over ``PausePolicy/window``, nothing is started: the sink's deliveries wait in
///   the store, their schedules frozen (the store moves their due times on by the pause when it
///   ends). One probe, a real attempt of the next due delivery, goes out at growing intervals.
///   A success, of a probe or of an attempt that was in flight when the circuit opened, closes it.
/// - **Disabled**: a sink that failed without one success for ``PausePolicy/disableAfter`` sends
///   nothing, not even probes, until it is enabled by hand.
///
/// The state lives in the store (``SinkState``) so it outlives the process and is shared by
/// nodes; this object is this node's view of it. Every change is written with a compare-and-set
/// on the stored version, one write at a time: a write that loses adopts the state that won.
///
/// Used on the runner's dispatch thread only.
final class SinkCircuit {
    /// `nil` when `pause: false`: the sink is never paused or disabled on its own, only by hand.
    var policy: PausePolicy?
    /// The state as this node sees it; ``SinkState/version`` is the stored version it is based on.
    private(set) var state: SinkState
    /// A write is with the store thread.
    var writePending = false
    /// ``state`` changed since it was last written.
    private(set) var needsWrite = false
    /// A status change waiting to be written, to be announced once the write wins.
    private(set) var unannounced: SinkStateChange?
    /// A status change waits to be announced.
    var hasUnannounced: Bool { unannounced != nil }
    /// The delivery sent as the current probe.
    private(set) var probeID: String?
    private var window: FailureWindow?

    init(pipeline: String, sink: String, policy: PausePolicy?) {
        self.policy = policy
        state = SinkState(pipeline: pipeline, sink: sink)
        window = policy.flatMap { $0.failureRate == nil ? nil : FailureWindow(length: $0.window.totalMilliseconds) }
    }

    /// What the lane may start now.
    enum Gate: Equatable {
        /// Attempts as usual.
        case open
        /// One attempt, the probe.
        case probe
        /// Nothing; look again at the time given (`nil`: when something changes).
        case closed(untilMs: Int64?)
    }

    func gate(nowMs: Int64) -> Gate {
        switch state.status {
        case .healthy:
            return .open
        case .disabled:
            return .closed(untilMs: nil)
        case .paused:
            if probeID != nil { return .closed(untilMs: nil) }
            let due = state.nextProbeMs ?? nowMs
            return due <= nowMs ? .probe : .closed(untilMs: due)
        }
    }

    /// Whether deliveries are held back (paused or disabled).
    var isHolding: Bool { state.status != .healthy }

    /// Notes that `deliveryID` went out as the probe.
    func probeStarted(_ deliveryID: String) {
        probeID = deliveryID
    }

    /// Forgets the probe `deliveryID` without judging it (it never reached the endpoint).
    func probeEnded(_ deliveryID: String) {
        if probeID == deliveryID { probeID = nil }
    }

    /// Whether `deliveryID` is the probe in flight.
    func isProbe(_ deliveryID: String) -> Bool { probeID == deliveryID }

    /// Counts an attempt's result and makes the transition it causes, if any (which then waits
    /// to be written: see ``takeWrite()``). Returns the change of status, if any.
    @discardableResult
    func judged(deliveryID: String, success: Bool, nowMs: Int64) -> SinkStateChange? {
        let wasProbe = probeID == deliveryID
        if wasProbe { probeID = nil }
        window?.add(failed: !success, atMs: nowMs)
        let previous = state
        if success {
            if state.consecutiveFailures != 0 || state.failingSinceMs != nil {
                state.consecutiveFailures = 0
                state.failingSinceMs = nil
                needsWrite = true
            }
            if state.status == .paused {
                state.status = .healthy
                state.changedAtMs = nowMs
                state.frozenSinceMs = nil
                state.nextProbeMs = nil
                state.probeIntervalMs = nil
                state.reason = wasProbe ? "a probe succeeded" : "an attempt succeeded"
            }
        } else {
            state.consecutiveFailures += 1
            if state.failingSinceMs == nil { state.failingSinceMs = nowMs }
            needsWrite = true
            if let policy, state.status != .disabled {
                if let after = policy.disableAfter, let since = state.failingSinceMs, nowMs - since >= after.totalMilliseconds {
                    state.status = .disabled
                    state.changedAtMs = nowMs
                    state.frozenSinceMs = state.frozenSinceMs ?? nowMs
                    state.nextProbeMs = nil
                    state.probeIntervalMs = nil
                    state.reason = "failing for \(Duration.milliseconds(nowMs - since).configDescription) without a success (\(state.consecutiveFailures) failed attempts in a row)"
                } else if state.status == .paused, wasProbe {
                    let interval = policy.nextProbeInterval(after: state.probeIntervalMs ?? policy.probe.totalMilliseconds)
                    state.probeIntervalMs = interval
                    state.nextProbeMs = nowMs.saturatingAdd(interval)
                } else if state.status == .healthy, let reason = pauseReason(policy) {
                    state.status = .paused
                    state.changedAtMs = nowMs
                    state.frozenSinceMs = nowMs
                    state.probeIntervalMs = policy.probe.totalMilliseconds
                    state.nextProbeMs = nowMs.saturatingAdd(policy.probe.totalMilliseconds)
                    state.reason = reason
                }
            }
        }
        guard let change = SinkStateChange(from: previous.status, to: state) else { return nil }
        state.lastChange = change.kind
        state.announced = true
        needsWrite = true
        unannounced = change
        return change
    }

    /// Why the circuit opens now, or `nil` while it stays closed.
    private func pauseReason(_ policy: PausePolicy) -> String? {
        if let limit = policy.consecutiveFailures, state.consecutiveFailures >= limit {
            return "\(state.consecutiveFailures) failed attempts in a row"
        }
        if let rate = policy.failureRate, let window, window.total >= policy.minAttempts,
            Double(window.failed) >= rate * Double(window.total)
        {
            return "\(window.failed) of \(window.total) attempts failed within \(policy.window.configDescription)"
        }
        return nil
    }

    /// The state to write, with the change to announce once it is written, or `nil` when
    /// nothing waits or a write is with the store already. Marks the write pending.
    func takeWrite() -> (state: SinkState, announce: SinkStateChange?)? {
        guard needsWrite, !writePending else { return nil }
        needsWrite = false
        writePending = true
        defer { unannounced = nil }
        return (state, unannounced)
    }

    /// Takes the store's answer to a write: on success the stored version; on a loss the state
    /// that won, adopted (see ``adopt(_:)``). Returns the status change adopting made, if any.
    func writeAnswered(written: Bool, current: SinkState, announce: SinkStateChange?) -> SinkStateChange? {
        writePending = false
        if written {
            state.version = current.version
            return nil
        }
        guard current.version > state.version else {
            // Not a loss but a failed write: it is made again at the next refresh.
            needsWrite = true
            unannounced = unannounced ?? announce
            return nil
        }
        return adopt(current)
    }

    /// Takes a stored state newer than this node's view (another node, the CLI or the admin API
    /// changed it). This node's failure count carries on if the status is the same. Returns the
    /// status change, if any; a change not announced yet is written back as announced, and
    /// whoever wins that write announces it.
    @discardableResult
    func adopt(_ stored: SinkState) -> SinkStateChange? {
        guard stored.version > state.version else { return nil }
        let previous = state
        state = stored
        if stored.status == previous.status, stored.status == .healthy, previous.consecutiveFailures > stored.consecutiveFailures {
            state.consecutiveFailures = previous.consecutiveFailures
            state.failingSinceMs = previous.failingSinceMs ?? stored.failingSinceMs
        }
        needsWrite = false
        // A change of this node's not written yet is superseded by the stored state: announcing
        // it later (at the next count write) would announce a transition twice.
        unannounced = nil
        if stored.status != .paused { probeID = nil }
        if stored.status == .healthy, previous.status != .healthy { window?.reset() }
        let change = SinkStateChange(from: previous.status, to: stored)
        if !stored.announced {
            state.announced = true
            needsWrite = true
            // As stored: after a restart this node saw nothing before, and a resume and an
            // enabling both end healthy.
            unannounced = stored.lastChange.map { SinkStateChange(kind: $0, state: stored, seen: previous.status) } ?? change ?? unannounced
        }
        return change
    }
}

/// Attempts and failures over a sliding window, in about 30 buckets, so a rate costs O(1) per
/// attempt whatever the traffic.
struct FailureWindow {
    let length: Int64
    let bucketMs: Int64
    private var buckets: [(startMs: Int64, total: Int, failed: Int)] = []
    private(set) var total = 0
    private(set) var failed = 0

    init(length: Int64) {
        self.length = max(1, length)
        bucketMs = max(1, self.length / 30)
    }

    mutating func add(failed isFailure: Bool, atMs nowMs: Int64) {
        while let first = buckets.first, first.startMs + bucketMs <= nowMs - length {
            total -= first.total
            failed -= first.failed
            buckets.removeFirst()
        }
        let start = nowMs - nowMs % bucketMs
        if buckets.last?.startMs != start { buckets.append((start, 0, 0)) }
        buckets[buckets.count - 1].total += 1
        total += 1
        if isFailure {
            buckets[buckets.count - 1].failed += 1
            failed += 1
        }
    }

    mutating func reset() {
        buckets.removeAll()
        total = 0
        failed = 0
    }
}
