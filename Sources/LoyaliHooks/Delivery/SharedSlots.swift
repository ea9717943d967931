/// The slots of the ``SharedAttemptLimit``s lanes share, and the turns of the lanes that wait
/// for one.
///
/// A lane may start an attempt while its group has a free slot and nobody waits for one;
/// otherwise it joins the group's line. Each slot that frees goes to the lane at the head of the
/// line, reserved for it until its next turn, so lanes that wait get one attempt per turn in
/// line order (round-robin) and a lane with a deep backlog never takes the freed slots of the
/// others. A lane that does not use a reservation on its turn gives it back.
///
/// Used on the runner's dispatch thread only, through ``LaneScheduler``.
struct SharedSlots {
    private struct Group {
        var limit: Int
        /// Lanes sharing it.
        var members = 0
        /// Attempts started and not finished.
        var running = 0
        /// Slots promised to lanes taken from the line, not used yet.
        var reserved = 0
        var line = FIFOQueue<Int>()

        var free: Int { limit - running - reserved }
    }

    private var groups: [Group] = []
    private var groupIndex: [SharedAttemptLimit: Int] = [:]
    /// Each lane's group, if it shares a limit.
    private var groupOf: [Int?] = []
    /// Slots reserved for each lane.
    private var reservedFor: [Int] = []
    private var inLine: [Bool] = []

    /// Adds a lane (the next index) sharing `limit`, if any.
    mutating func addLane(sharing limit: SharedAttemptLimit?) {
        var group: Int?
        if let limit {
            if let known = groupIndex[limit] {
                group = known
            } else {
                group = groups.count
                groupIndex[limit] = groups.count
                groups.append(Group(limit: limit.limit))
            }
            groups[group!].members += 1
        }
        groupOf.append(group)
        reservedFor.append(0)
        inLine.append(false)
    }

    /// Whether `lane` may start an attempt now; if not, it is in its group's line.
    mutating func mayStart(_ lane: Int) -> Bool {
        guard let group = groupOf[lane] else { return true }
        if reservedFor[lane] > 0 { return true }
        // A free slot means nobody waits: freed slots go to the line first.
        if groups[group].free > 0, groups[group].line.isEmpty { return true }
        if !inLine[lane] {
            inLine[lane] = true
            groups[group].line.append(lane)
        }
        return false
    }

    /// `lane` started an attempt (after ``mayStart(_:)`` said it may).
    mutating func started(_ lane: Int) {
        guard let group = groupOf[lane] else { return }
        groups[group].running += 1
        if reservedFor[lane] > 0 {
            reservedFor[lane] -= 1
            groups[group].reserved -= 1
        }
    }

    /// An attempt of `lane` finished; returns the lanes to wake, whose slots are reserved.
    mutating func finished(_ lane: Int) -> [Int] {
        guard let group = groupOf[lane] else { return [] }
        groups[group].running -= 1
        return handOut(group)
    }

    /// `lane`'s turn ended: reservations it did not use go to the next lanes in line, which are
    /// returned to be woken.
    mutating func endTurn(_ lane: Int) -> [Int] {
        guard let group = groupOf[lane], reservedFor[lane] > 0 else { return [] }
        groups[group].reserved -= reservedFor[lane]
        reservedFor[lane] = 0
        return handOut(group)
    }

    /// The slots `lane` can expect before its next claim is answered, when it shares a limit:
    /// the limit split among the lanes sharing it, plus one. A thousand lanes sharing one host's
    /// 64 slots each need a delivery or two in hand, not 32; so what they hold beyond the claim
    /// budget is about the limit plus one delivery per lane.
    func share(of lane: Int) -> Int? {
        guard let group = groupOf[lane] else { return nil }
        return min(groups[group].limit, groups[group].limit / groups[group].members + 1)
    }

    /// Attempts running in `lane`'s group, for tests and diagnostics.
    func running(sharedWith lane: Int) -> Int? {
        groupOf[lane].map { groups[$0].running }
    }

    /// Reserves free slots for the lanes at the head of `group`'s line.
    private mutating func handOut(_ group: Int) -> [Int] {
        var woken: [Int] = []
        while groups[group].free > 0, let lane = groups[group].line.popFirst() {
            inLine[lane] = false
            reservedFor[lane] += 1
            groups[group].reserved += 1
            woken.append(lane)
        }
        return woken
    }
}
