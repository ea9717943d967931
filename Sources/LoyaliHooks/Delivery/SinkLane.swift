import Dispatch

/// One pipeline's sink as the runner drives it: its own queue of claimed deliveries and its own
/// in-flight limit, so a dead or slow endpoint only ever holds up itself.
///
/// Mutated only on the runner's dispatch thread.
final class SinkLane {
    let pipeline: PipelineDefinition
    let sink: SinkDefinition
    let planner: DeliveryPlanner
    /// Requests allowed in flight at once.
    let maxInFlight: Int
    /// Deliveries claimed from the store, waiting for a free slot.
    var claimed: [ClaimedDelivery] = []
    var claimedHead = 0
    /// Claimed deliveries at the head of the queue whose next attempt the store has marked
    /// started (see ``DeliveryStore/markStarted(ids:)``): only these may be sent, so a crash
    /// logs an `interrupted` attempt only for deliveries that may have been sent.
    private(set) var marked = 0
    /// The claimed deliveries right after the marked ones whose marks are being written.
    private(set) var marking = 0
    /// Counts the times the lane gave its unstarted deliveries back: a mark answer asked for
    /// before is about deliveries it no longer holds.
    private(set) var markGeneration = 0
    /// No mark is asked for before this (the store failed the last one).
    private var markRetryAtMs = Int64.min
    var inFlight = 0
    /// Attempts handed to the sink and not judged yet, by delivery id, with when they started:
    /// what a stop whose grace runs out records as `interrupted`.
    var started: [String: (delivery: ClaimedDelivery, startedAtMs: Int64)] = [:]
    /// When the store next has due work for this lane; `nil` = ask the store now;
    /// ``nothingDue`` = the store holds nothing unsettled for it.
    var nextDueMs: Int64?
    static let nothingDue = Int64.max
    /// When the store last answered that nothing more was due for this lane now: the periodic
    /// refresh asks again only once this is a refresh interval old.
    var dueCheckedAtMs = Int64.min
    /// A claim for this lane is with the store thread.
    var claimPending = false
    /// The claim budget that claim reserved (see ``LaneScheduler/reserveClaim(lane:limit:)``).
    var claimReserve = 0
    /// The earliest retry judged while a claim was pending: the claim's answer about the next due
    /// time may predate it.
    var retryDuringClaimMs: Int64?
    /// New work reached the store while a claim was pending: an empty answer may predate it.
    var newWorkDuringClaim = false
    /// The deliveries this lane claims, by creation time (see ``RunnerLayout``).
    var window = CreationWindow.all
    /// Its pipeline was swapped by a reconfiguration: it only finishes what it had.
    var retired = false
    /// Retired and settled: it claims nothing any more.
    var finished = false
    /// The sink's `rate_limit:` as a bucket, made at the lane's first attempt; `nil` = no limit.
    private var bucket: TokenBucket?
    /// Backs the pace off after 429s without Retry-After (see ``SinkThrottle``).
    var throttle = SinkThrottle()
    /// Blocking sinks (file, stdout) run here, one attempt at a time, off every other thread.
    let queue: DispatchQueue?
    /// The sink as a ``ConcurrentSink`` (HTTP, plugin sinks), cast once rather than per attempt.
    let concurrent: (any ConcurrentSink)?
    /// The sink's circuit breaker, shared by every lane of the sink (see ``CircuitBoard``).
    var circuit: SinkCircuit
    /// The cap this lane shares with other lanes (see ``SharedAttemptLimit``), read once.
    let sharedLimit: SharedAttemptLimit?

    init(pipeline: PipelineDefinition, sink: SinkDefinition) {
        self.pipeline = pipeline
        self.sink = sink
        self.planner = DeliveryPlanner(pipeline: pipeline)
        concurrent = sink.sink as? any ConcurrentSink
        circuit = SinkCircuit(pipeline: pipeline.name, sink: sink.name, policy: sink.pause)
        sharedLimit = concurrent?.sharedLimit
        if let concurrent {
            maxInFlight = concurrent.maxInFlight
            queue = nil
        } else {
            // Local writes run one after another on the lane's queue; handing them over in
            // batches keeps the queue hop off the per-delivery path while order is kept.
            maxInFlight = Self.blockingBatchSize
            queue = DispatchQueue(label: "loyali-hooks.sink.\(pipeline.name).\(sink.name)")
        }
    }

    /// Deliveries handed to a blocking sink's queue at once.
    static let blockingBatchSize = 256

    var key: (pipeline: String, sink: String) { (pipeline.name, sink.name) }
    var hasClaimed: Bool { claimedHead < claimed.count }
    /// Claimed deliveries not started yet.
    var claimedCount: Int { claimed.count - claimedHead }
    var isIdle: Bool { inFlight == 0 && !hasClaimed && !claimPending }
    /// Whether its sink is paused or disabled with nothing of its own in flight, so a run that
    /// drains or runs once need not wait for it: its deliveries wait for the next probe, or for
    /// someone to enable it.
    var isHeldBack: Bool { circuit.isHolding && inFlight == 0 && !claimPending }

    /// Attempts this lane may have in flight at `nowMs`: its limit, less while it backs off.
    func inFlightLimit(nowMs: Int64) -> Int {
        throttle.inFlightLimit(maxInFlight, nowMs: nowMs)
    }

    /// Takes a token of the sink's `rate_limit` for one attempt at `nowMs`. Returns `nil` when the
    /// attempt may start, else when the next token is there. Sinks without a limit always may.
    func takeToken(nowMs: Int64) -> Int64? {
        guard let limit = sink.rateLimit else { return nil }
        let perMs = limit.perMs * throttle.share(nowMs: nowMs)
        var bucket = self.bucket ?? TokenBucket(perMs: perMs, capacity: limit.burst, nowMs: nowMs)
        if bucket.perMs != perMs { bucket.setRate(perMs: perMs, nowMs: nowMs) }
        defer { self.bucket = bucket }
        return bucket.take(nowMs: nowMs) ? nil : bucket.readyAtMs(nowMs: nowMs)
    }

    /// Notes a retry falling due at `atMs`.
    func scheduleRetry(atMs: Int64) {
        // `nil` already means "ask the store now", which covers the retry.
        if let due = nextDueMs { nextDueMs = min(due, atMs) }
        if claimPending { retryDuringClaimMs = min(retryDuringClaimMs ?? atMs, atMs) }
    }

    /// Forgets the cached due time, so the lane asks the store when it next has room: new work
    /// may be due (ingest, a resend, a widened window, the periodic refresh).
    func invalidateDueTime() {
        nextDueMs = nil
        if claimPending { newWorkDuringClaim = true }
    }

    /// Takes the store thread's answer to this lane's claim.
    func take(_ result: StoreWorker.ClaimResult, nowMs: Int64) {
        claimPending = false
        if result.claimed.isEmpty {
            dueCheckedAtMs = nowMs
            nextDueMs = newWorkDuringClaim
                ? nil : min(result.nextDueMs ?? Self.nothingDue, retryDuringClaimMs ?? Self.nothingDue)
        } else {
            append(result.claimed)
            // More may be due than one claim took.
            nextDueMs = nowMs
        }
        retryDuringClaimMs = nil
        newWorkDuringClaim = false
    }

    /// Queues deliveries behind those claimed already.
    func append(_ deliveries: [ClaimedDelivery]) {
        // Drop the taken prefix first: with claims made ahead, the buffer may never run empty.
        claimed.removeFirst(claimedHead)
        claimedHead = 0
        claimed.append(contentsOf: deliveries)
    }

    /// Takes every claimed delivery not started yet (at a stop, to put them back in the queue).
    func takeUnstarted() -> [ClaimedDelivery] {
        defer {
            claimed.removeAll()
            claimedHead = 0
            (marked, marking) = (0, 0)
            markGeneration += 1
        }
        return Array(claimed[claimedHead...])
    }

    /// The ids of the claimed deliveries to mark started next, so that up to `window` are ready to
    /// send, or `nil`: while a mark is being written, while more than half the window is ready
    /// (marks go in batches, not one statement per attempt), or before `markRetryAtMs`. At most
    /// `window` deliveries are ever marked and not yet sent: all a crash can over-report.
    func takeToMark(window: Int, nowMs: Int64) -> [String]? {
        guard marking == 0, nowMs >= markRetryAtMs, marked <= window / 2 else { return nil }
        let start = claimedHead + marked
        let count = min(claimed.count - start, window - marked)
        guard count > 0 else { return nil }
        marking = count
        return claimed[start..<(start + count)].map(\.id)
    }

    /// Takes the store's answer to the mark asked for at `generation`: the deliveries marked may
    /// be sent. Returns the ones in `lost` (this node no longer holds them: another node took
    /// them after their lease ran out), taken out of the queue.
    func markAnswered(generation: Int, lost: [String]) -> [ClaimedDelivery] {
        guard generation == markGeneration, marking > 0 else { return [] }
        var dropped: [ClaimedDelivery] = []
        if !lost.isEmpty {
            let lostIDs = Set(lost)
            let range = (claimedHead + marked)..<(claimedHead + marked + marking)
            dropped = claimed[range].filter { lostIDs.contains($0.id) }
            claimed.replaceSubrange(range, with: claimed[range].filter { !lostIDs.contains($0.id) })
        }
        marked += marking - dropped.count
        marking = 0
        return dropped
    }

    /// The mark asked for at `generation` was not written: those deliveries wait, and the next
    /// mark is asked for at `retryAtMs`.
    func markFailed(generation: Int, retryAtMs: Int64) {
        guard generation == markGeneration else { return }
        marking = 0
        markRetryAtMs = retryAtMs
    }

    /// Takes the next claimed delivery whose attempt is marked started.
    func nextClaimed() -> ClaimedDelivery? {
        guard marked > 0 else { return nil }
        marked -= 1
        defer {
            claimedHead += 1
            if claimedHead == claimed.count {
                // A claim's worth of room is kept for the next one; a lane that held a deep
                // backlog gives it back, since thousands of idle lanes would keep it all.
                claimed.removeAll(keepingCapacity: claimed.capacity <= 2 * maxInFlight)
                claimedHead = 0
            }
        }
        return claimed[claimedHead]
    }

    /// The retry policy for a stored delivery: its own schedule (fixed when it was created, so a
    /// reload never changes queued work) with the sink's jitter and Retry-After cap.
    func decision(for delivery: ClaimedDelivery) -> RetryDecision {
        var policy = sink.retry
        policy.schedule = delivery.schedule.map { .milliseconds($0) }
        return RetryDecision(policy: policy)
    }
}

/// A sink that reports results asynchronously and can have several attempts in flight.
public protocol ConcurrentSink: Sink {
    /// Attempts allowed in flight at once.
    var maxInFlight: Int { get }
    /// A cap on attempts in flight this sink shares with others (the connections of its
    /// destination), or `nil` when only ``maxInFlight`` applies.
    var sharedLimit: SharedAttemptLimit? { get }
    /// Starts one attempt; `completion` may run on any thread.
    func send(_ request: DeliveryRequest, completion: @escaping @Sendable (AttemptResult) -> Void)
}

extension ConcurrentSink {
    /// No shared cap: only the sink's own ``maxInFlight`` applies.
    public var sharedLimit: SharedAttemptLimit? { nil }
}
