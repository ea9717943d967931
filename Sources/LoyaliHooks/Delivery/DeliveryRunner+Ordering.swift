/// Ordered delivery's fast path in the runner (see ``DeliveryOrdering``).
///
/// A key's head is claimed in the ingest transaction when nothing earlier of its key is
/// unsettled, and handed to its lane like any fresh delivery; a later delivery of a busy key is
/// stored pending, and nothing asks the store for it. When an attempt settles a head (succeeded,
/// or failed for good), the store thread's write of that attempt claims the key's next delivery
/// in the same transaction, and it comes back here. So with many keys, ordered deliveries reach
/// their lanes as unordered ones do, and the claim that looks through the queue for heads runs
/// only when the store has work this path cannot see: a retry coming due, a restart, another
/// node's rows, the periodic refresh.
extension DeliveryRunner {
    /// Takes the store thread's answer to a write that settled ordered deliveries: each next
    /// delivery claimed goes to the lane whose window holds it (or back to the queue, when this
    /// runner has none), and lanes whose key's head was left in the queue ask the store.
    func takeAdvance(_ answer: StoreWorker.AdvanceResult, lanes: [SinkLane], scheduler: LaneScheduler, storeWorker: StoreWorker) {
        scheduler.pendingAdvances -= answer.answers
        guard !answer.advance.claimed.isEmpty || !answer.advance.waiting.isEmpty else { return }
        let (current, window) = (layout.withLock { $0 }, currentWindow)
        var unplaced: [String] = []
        for next in answer.advance.claimed {
            let key = LaneKey(pipeline: next.delivery.pipeline, sink: next.delivery.sink)
            guard window.contains(next.createdAtMs), let index = Self.lane(for: key, createdAtMs: next.createdAtMs, in: lanes, layout: current)
            else {
                unplaced.append(next.delivery.id)
                continue
            }
            lanes[index].append([next.delivery])
            scheduler.held(bytes: next.delivery.footprint)
            scheduler.markReady(index)
        }
        // Another runner on this store (a reload's) owns it: back in the queue, where it claims it.
        storeWorker.release(unplaced)
        for sink in answer.advance.waiting {
            let key = LaneKey(pipeline: sink.pipeline, sink: sink.sink)
            for (index, lane) in lanes.enumerated() where !lane.finished && lane.pipeline.name == key.pipeline && lane.sink.name == key.sink {
                lane.invalidateDueTime()
                scheduler.markReady(index)
            }
        }
    }

    /// The lane that sends a delivery of `key` created at `createdAtMs`: the live one when its
    /// window holds it, else a retired one still finishing whose window does.
    private static func lane(for key: LaneKey, createdAtMs: Int64, in lanes: [SinkLane], layout: RunnerLayout) -> Int? {
        if let index = layout.lane(for: key, createdAtMs: createdAtMs), index < lanes.count { return index }
        return lanes.indices.first { index in
            let lane = lanes[index]
            return lane.retired && !lane.finished && lane.pipeline.name == key.pipeline && lane.sink.name == key.sink
                && lane.window.contains(createdAtMs)
        }
    }
}
