/// Which sink lanes the dispatch thread looks at, and in what order, so that the cost of a pass
/// follows the work that happened and not the number of sinks, and every lane with work gets its
/// turn.
///
/// - **Ready lanes** take turns in arrival order (round-robin): a lane is queued when something
///   may let it start work (a slot freed, a claim answered, fresh deliveries handed over, its due
///   time reached, new work stored for it), once however often that happens before its turn.
///   A lane with a deep backlog fills its own slots on its turn and then waits for the next, so
///   it cannot starve the others.
/// - **Due times** wait in a heap: O(log lanes) per lane that has a future due time, instead of a
///   scan of every lane on each pass.
/// - **Claim budget.** Claimed deliveries wait in memory until a slot frees; all lanes together
///   hold about ``claimBytes`` of them (see ``ClaimedDelivery/footprint``) beyond what fills
///   their slots. A lane that holds some and would go over waits in line and gets its turn as the
///   budget frees, oldest first; a lane that holds none may always claim enough to fill its
///   slots, so lanes whose sinks are stuck never starve the others of the budget.
/// - **Shared limits.** Lanes whose sinks share a cap (one destination's connections, see
///   ``SharedAttemptLimit``) start attempts within it, taking turns for freed slots
///   (``SharedSlots``), so the transport never holds more than its connections can run.
///
/// Used on the runner's dispatch thread only.
final class LaneScheduler {
    /// Bytes of claimed deliveries (and claims asked for) all lanes may hold, about.
    let claimBytes: Int
    /// Deliveries one claim asks for at most.
    let claimSize: Int
    /// Each lane's in-flight limit.
    private var maxInFlight: [Int]

    private var ready = FIFOQueue<Int>()
    private var isReady: [Bool]
    /// Lanes that wanted to claim while the budget was spent, oldest first.
    private var budgetLine = FIFOQueue<Int>()
    private var inBudgetLine: [Bool]
    private var timers = MinHeap<Timer>()
    /// The due time each lane has a timer for (a later entry for the lane replaces it).
    private var timerDue: [Int64?]
    private var shared = SharedSlots()

    /// Bytes held by claimed deliveries not started yet, plus what claims asked for reserve.
    private(set) var claimedBytes = 0
    /// Attempts started and not judged yet, across lanes.
    var inFlight = 0
    /// Claims with the store thread.
    var pendingClaims = 0
    /// Attempt writes with the store thread that may claim ordered keys' next deliveries.
    var pendingAdvances = 0
    /// Footprints seen, to size claims before their deliveries are known.
    private var footprintTotal = 0
    private var footprintCount = 0

    private struct Timer: Comparable {
        var dueMs: Int64
        var lane: Int
        static func < (a: Timer, b: Timer) -> Bool { (a.dueMs, a.lane) < (b.dueMs, b.lane) }
    }

    /// `sharedLimits[lane]` is the cap lane `lane` shares with others, if any (none when the
    /// array is shorter).
    init(maxInFlight: [Int], sharedLimits: [SharedAttemptLimit?] = [], claimBytes: Int, claimSize: Int) {
        self.maxInFlight = maxInFlight
        for lane in maxInFlight.indices { shared.addLane(sharing: lane < sharedLimits.count ? sharedLimits[lane] : nil) }
        let laneCount = maxInFlight.count
        self.claimBytes = max(1, claimBytes)
        self.claimSize = max(1, claimSize)
        isReady = Array(repeating: false, count: laneCount)
        inBudgetLine = Array(repeating: false, count: laneCount)
        timerDue = Array(repeating: nil, count: laneCount)
    }

    /// Adds a lane (a reconfiguration added a sink), queued for a turn.
    func addLane(maxInFlight limit: Int, sharedLimit: SharedAttemptLimit? = nil) {
        maxInFlight.append(limit)
        shared.addLane(sharing: sharedLimit)
        isReady.append(false)
        inBudgetLine.append(false)
        timerDue.append(nil)
        markReady(maxInFlight.count - 1)
    }

    // MARK: Turns

    /// Queues `lane` for a turn, unless it is queued already.
    func markReady(_ lane: Int) {
        guard !isReady[lane] else { return }
        isReady[lane] = true
        ready.append(lane)
    }

    /// Queues every lane (new work may be anywhere: a resend, a wider window, the refresh).
    func markAllReady() {
        for lane in maxInFlight.indices { markReady(lane) }
    }

    /// Whether a lane waits for its turn.
    var hasReady: Bool { !ready.isEmpty }

    /// The lanes whose turn it is, in order; lanes queued while they take it wait for the next
    /// pass.
    func takeReady() -> [Int] {
        let taken = ready.popFirst(ready.count)
        for lane in taken { isReady[lane] = false }
        return taken
    }

    // MARK: Shared limits

    /// Whether `lane` may start an attempt under the limit it shares; if not, it waits in line
    /// and is queued for a turn once a slot is reserved for it.
    func mayStart(_ lane: Int) -> Bool {
        shared.mayStart(lane)
    }

    /// `lane` started an attempt.
    func started(_ lane: Int) {
        inFlight += 1
        shared.started(lane)
    }

    /// An attempt of `lane` was judged: its slots are free.
    func finished(_ lane: Int) {
        inFlight -= 1
        markReady(lane)
        for woken in shared.finished(lane) { markReady(woken) }
    }

    /// `lane`'s turn is over: shared slots reserved for it and not used go to the next in line.
    func endTurn(_ lane: Int) {
        for woken in shared.endTurn(lane) { markReady(woken) }
    }

    /// Attempts running under the limit `lane` shares, if it shares one.
    func sharedRunning(lane: Int) -> Int? {
        shared.running(sharedWith: lane)
    }

    // MARK: Due times

    /// Wakes `lane` at `dueMs`.
    func arm(_ lane: Int, atMs dueMs: Int64) {
        guard timerDue[lane] != dueMs else { return }
        timerDue[lane] = dueMs
        timers.insert(Timer(dueMs: dueMs, lane: lane))
    }

    /// Wakes `lane` at `dueMs` unless it wakes earlier already: a lane waiting for its rate
    /// limit's next token must not lose an earlier due time, nor keep only a later one.
    func arm(_ lane: Int, notLaterThanMs dueMs: Int64) {
        if let armed = timerDue[lane], armed <= dueMs { return }
        arm(lane, atMs: dueMs)
    }

    /// Queues the lanes whose due time has come.
    func fireTimers(nowMs: Int64) {
        while let first = timers.min, first.dueMs <= nowMs {
            _ = timers.popMin()
            // An older entry for a lane re-armed since is stale.
            guard timerDue[first.lane] == first.dueMs else { continue }
            timerDue[first.lane] = nil
            markReady(first.lane)
        }
    }

    /// When the next timer fires (stale entries on top are dropped on the way).
    func nextTimerMs() -> Int64? {
        while let first = timers.min, timerDue[first.lane] != first.dueMs { _ = timers.popMin() }
        return timers.min?.dueMs
    }

    // MARK: Claim budget

    /// Deliveries a claim for `lane` asks for: ``claimSize`` while the budget has room for that
    /// many, else enough to fill the slots the lane can use: its own, and of a limit it shares
    /// with other lanes, its turn's share (see ``SharedSlots/share(of:)``). A lone busy sink
    /// claims in large batches; many sinks at once claim little each, so that what lanes hold
    /// beyond the budget grows by a few deliveries per lane, not by `max_in_flight` per lane.
    func claimLimit(lane: Int) -> Int {
        guard claimedBytes + claimSize * averageFootprint > claimBytes else { return claimSize }
        return min(claimSize, maxInFlight[lane], shared.share(of: lane) ?? .max)
    }

    /// The footprint of the deliveries seen so far, on average; 1 KiB before any.
    var averageFootprint: Int { footprintCount == 0 ? 1_024 : max(1, footprintTotal / footprintCount) }

    /// Reserves the budget for a claim of `limit` deliveries for `lane` and returns the bytes
    /// reserved, or `nil` (and `lane` waits in line) when the budget is spent. A lane that
    /// `holdsNone` is never refused (see the type's notes), nor is any claim while nothing is
    /// held, so one lane alone always gets work however large its deliveries.
    func reserveClaim(lane: Int, limit: Int, holdsNone: Bool) -> Int? {
        let reserve = limit * averageFootprint
        guard holdsNone || claimedBytes == 0 || claimedBytes + reserve <= claimBytes else {
            if !inBudgetLine[lane] {
                inBudgetLine[lane] = true
                budgetLine.append(lane)
            }
            return nil
        }
        claimedBytes += reserve
        pendingClaims += 1
        return reserve
    }

    /// A claim that reserved `reserved` bytes came back with `count` deliveries of `bytes` in
    /// all: the reservation becomes what they hold.
    func claimAnswered(reserved: Int, count: Int, bytes: Int) {
        pendingClaims -= 1
        claimedBytes = max(0, claimedBytes + bytes - reserved)
        footprintTotal += bytes
        footprintCount += count
        releaseBudgetLine()
    }

    /// Deliveries of `bytes` joined a lane's claimed queue without a claim (handed over fresh).
    func held(bytes: Int) {
        claimedBytes += bytes
    }

    /// Claimed deliveries of `bytes` left the queue (started, or put back).
    func released(bytes: Int) {
        claimedBytes = max(0, claimedBytes - bytes)
        releaseBudgetLine()
    }

    /// Gives lanes waiting for the budget their turn while it has room for their claims, oldest
    /// first.
    private func releaseBudgetLine() {
        var room = claimBytes - claimedBytes
        while let lane = budgetLine.elements.first {
            let reserve = claimLimit(lane: lane) * averageFootprint
            guard reserve <= room else { return }
            _ = budgetLine.popFirst()
            inBudgetLine[lane] = false
            markReady(lane)
            room -= reserve
        }
    }
}
