import Foundation

// Operational events on the store thread: stored with the attempt records that made them, and
// kept for another try when the store refuses them (see ``OperationalBacklog``). Apart from the
// worker's main loop so that the loop reads as one unit.
extension StoreWorker {
    /// Stores `new` operational events with those kept from earlier passes, when the wait after
    /// the last refusal is over; otherwise keeps them for that try. What the store refuses is
    /// kept for another try, except when `finishing`: then it is given up, counted and logged.
    /// Returns whether all were stored now.
    @discardableResult
    func storeOperational(_ new: [EventEnvelope], backlog: inout OperationalBacklog, finishing: Bool) -> Bool {
        guard let storeOperational else { return false }
        let now = clock.nowMs()
        let waiting = backlog.events.count
        defer {
            if backlog.events.count != waiting { observer?.operationalEventsWaiting(change: backlog.events.count - waiting) }
        }
        guard backlog.isEmpty || backlog.isDue(nowMs: now) || finishing else {
            giveUp(backlog.add(new), why: "more operational events are waiting than the \(backlog.limit) kept")
            return false
        }
        let batch = backlog.events + new
        let retried = backlog.events.count
        do {
            try storeOperational(batch)
            operationalSettled(batch.count)
            if retried > 0 {
                logger.log(.info, "storing operational events works again", ["events": String(batch.count)])
            }
            backlog.stored()
            return true
        } catch {
            if finishing {
                backlog.stored()
                giveUp(batch, why: "the store refused them as the run ended: \(error)")
                return false
            }
            if retried == 0 {
                logger.log(.error, "storing operational events failed; keeping them and trying again until the store takes them", [
                    "events": String(batch.count), "error": "\(error)",
                ])
            }
            giveUp(backlog.refused(batch, nowMs: now), why: "more operational events are waiting than the \(backlog.limit) kept")
            return false
        }
    }

    /// Gives `events` up: they will not reach any operational pipeline.
    private func giveUp(_ events: [EventEnvelope], why: String) {
        guard !events.isEmpty else { return }
        logger.log(.error, "operational events given up", [
            "events": String(events.count), "types": Set(events.map(\.eventType)).sorted().joined(separator: ","), "reason": why,
        ])
        onFailure("\(Plural.count(events.count, "operational event")) given up, never stored: \(why)")
        observer?.operationalEventsDropped(events.count)
        operationalSettled(events.count)
    }
}
