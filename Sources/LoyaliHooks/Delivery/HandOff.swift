import Foundation
import Synchronization

/// Fresh deliveries passed from the ingest thread straight to their sink lanes, skipping the
/// store's claim.
///
/// A delivery due at once is stored already claimed (`in_flight`) in the ingest transaction, and
/// handed over in memory. That saves reading it back and updating its row a second time. Crash
/// safety does not change: the row and the source checkpoint commit together, and a restart puts
/// in-flight rows back in the queue, as it does for claimed ones.
///
/// **Bounded memory, and sinks stay apart.** Each lane takes at most ``capacity`` deliveries this
/// way. A lane with no room is *closed*: later rows for it go to the store as `pending`, so the
/// lane reads its backlog in order. The dispatcher reopens it when a claim finds nothing due.
///
/// **Pacing.** The ingest thread waits before a batch only when every open lane it feeds is
/// full, and only while those lanes keep taking work. Reading then follows the fastest sink. A
/// stuck sink is closed after ``patience``, and never holds the others back.
///
/// `@unchecked Sendable`: all mutable state is in `lanes`, a `Mutex`; the `Wakeup` is
/// thread-safe.
final class HandOff: @unchecked Sendable {
    /// Deliveries one lane may hold here at most.
    let capacity: Int
    /// How long the ingest thread waits for a full lane to take anything before closing it, in
    /// seconds.
    let patience: Double

    private struct Lane {
        var open = true
        var queue = FIFOQueue<ClaimedDelivery>()
        /// Deliveries taken so far: the ingest thread's measure of progress.
        var taken = 0

        var count: Int { queue.count }
    }

    private let lanes: Mutex<[Lane]>
    /// Signalled whenever a lane takes deliveries, for an ingest thread waiting for room.
    private let progressed = Wakeup()

    init(laneCount: Int, capacity: Int, patience: Double = 0.02) {
        self.capacity = capacity
        self.patience = patience
        lanes = Mutex(Array(repeating: Lane(), count: laneCount))
    }

    // MARK: Ingest thread

    /// For each lane, how many more deliveries it takes, or `nil` when it is closed.
    func room() -> [Int?] {
        lanes.withLock { lanes in lanes.map { $0.open ? max(0, capacity - $0.count) : nil } }
    }

    /// Closes `lane`: a delivery for it went to the store because it had no room.
    func close(_ lane: Int) {
        lanes.withLock { $0[lane].open = false }
    }

    /// Adds deliveries stored as claimed to their lanes' queues.
    func push(_ deliveries: [(lane: Int, delivery: ClaimedDelivery)]) {
        guard !deliveries.isEmpty else { return }
        lanes.withLock { lanes in
            for (lane, delivery) in deliveries { lanes[lane].queue.append(delivery) }
        }
    }

    /// Waits while every open lane among `fed` is too full for `batch` more, for as long as they
    /// keep taking work: after ``patience`` without progress they are closed. Returns at once when
    /// an open fed lane has room, or none is open; `stop` ends the wait early.
    func waitForRoom(fed: [Int], batch: Int, stop: () -> Bool) {
        var lastTaken = -1
        var since = Date()
        while !stop() {
            // Closed lanes are fed through the store and never waited for.
            let (open, mustWait, taken) = lanes.withLock { lanes -> ([Int], Bool, Int) in
                let open = fed.filter { lanes[$0].open }
                let full = !open.isEmpty && open.allSatisfy { lanes[$0].count + batch > capacity }
                return (open, full, open.reduce(0) { $0 + lanes[$1].taken })
            }
            guard mustWait else { return }
            if taken != lastTaken {
                lastTaken = taken
                since = Date()
            } else if Date().timeIntervalSince(since) >= patience {
                lanes.withLock { lanes in for lane in open { lanes[lane].open = false } }
                return
            }
            progressed.wait(until: Date(timeIntervalSinceNow: patience / 4))
        }
    }

    // MARK: Dispatch thread

    /// Takes up to `limit` deliveries queued for `lane`, oldest first.
    func take(_ lane: Int, limit: Int) -> [ClaimedDelivery] {
        guard limit > 0 else { return [] }
        let taken = lanes.withLock { lanes -> [ClaimedDelivery] in
            let taken = lanes[lane].queue.popFirst(limit)
            lanes[lane].taken += taken.count
            return taken
        }
        if !taken.isEmpty { progressed.signal() }
        return taken
    }

    /// Reopens `lane`: a claim found nothing due for it in the store.
    func reopen(_ lane: Int) {
        lanes.withLock { $0[lane].open = true }
    }

    /// Whether `lane` has deliveries waiting here.
    func hasQueued(_ lane: Int) -> Bool {
        lanes.withLock { $0[lane].count > 0 }
    }
}
