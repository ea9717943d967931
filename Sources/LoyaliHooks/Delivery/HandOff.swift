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
/// way, and all lanes together at most ``byteCapacity`` bytes (see
/// ``ClaimedDelivery/footprint``), however many lanes there are. A lane with no room is
/// *closed*: later rows for it go to the store as `pending`, so the lane reads its backlog in
/// order. The dispatcher reopens it when a claim finds nothing due.
///
/// **Pacing.** The ingest thread waits before a batch only when every open lane it feeds is
/// full, or the byte budget is spent, and only while those lanes keep taking work. Reading then follows the fastest sink. A
/// stuck sink is closed after ``patience``, and never holds the others back. On a store other
/// nodes work on too, the ingest thread does not wait at all (see `DeliveryRunner.PeerWatch`):
/// what the lanes have no room for is stored for any node to claim.
///
/// `@unchecked Sendable`: all mutable state is in `state`, a `Mutex`; the `Wakeup` is
/// thread-safe.
final class HandOff: @unchecked Sendable {
    /// Deliveries one lane may hold here at most.
    let capacity: Int
    /// Bytes all lanes together may hold here, about.
    let byteCapacity: Int
    /// How long the ingest thread waits for a full lane to take anything before closing it, in
    /// seconds.
    let patience: Double

    private struct Lane {
        var open = true
        var queue = FIFOQueue<ClaimedDelivery>()
        /// Deliveries taken so far: the ingest thread's measure of progress.
        var taken = 0
        /// Listed in ``State/fed`` already.
        var listed = false

        var count: Int { queue.count }
    }

    private struct State {
        var lanes: [Lane]
        /// The footprint of everything queued.
        var bytes = 0
        /// Lanes pushed to since the dispatcher last asked, each once.
        var fed: [Int] = []
    }

    private let state: Mutex<State>
    /// Signalled whenever a lane takes deliveries, for an ingest thread waiting for room.
    private let progressed = Wakeup()

    init(laneCount: Int, capacity: Int, byteCapacity: Int = .max, patience: Double = 0.02) {
        self.capacity = capacity
        self.byteCapacity = byteCapacity
        self.patience = patience
        state = Mutex(State(lanes: Array(repeating: Lane(), count: laneCount)))
    }

    /// Lanes served.
    var laneCount: Int { state.withLock { $0.lanes.count } }

    /// Adds lanes (open, empty) up to `count`: a reconfiguration added sinks.
    func grow(to count: Int) {
        state.withLock { state in
            if state.lanes.count < count { state.lanes += Array(repeating: Lane(), count: count - state.lanes.count) }
        }
    }

    // MARK: Ingest thread

    /// For each lane, how many more deliveries it takes, or `nil` when it is closed; and how
    /// many more bytes all lanes together take.
    func room() -> (lanes: [Int?], bytes: Int) {
        state.withLock { state in
            (state.lanes.map { $0.open ? max(0, capacity - $0.count) : nil }, max(0, byteCapacity - state.bytes))
        }
    }

    /// Closes `lane`: a delivery for it went to the store because it had no room.
    func close(_ lane: Int) {
        state.withLock { $0.lanes[lane].open = false }
    }

    /// Adds deliveries stored as claimed to their lanes' queues.
    func push(_ deliveries: [(lane: Int, delivery: ClaimedDelivery)]) {
        guard !deliveries.isEmpty else { return }
        state.withLock { state in
            for (lane, delivery) in deliveries {
                state.lanes[lane].queue.append(delivery)
                state.bytes += delivery.footprint
                if !state.lanes[lane].listed {
                    state.lanes[lane].listed = true
                    state.fed.append(lane)
                }
            }
        }
    }

    /// Waits while every open lane among `fed` is too full for `batch` more, or the byte budget
    /// is spent, for as long as they keep taking work: after ``patience`` without progress they are closed. Returns at once when
    /// an open fed lane has room, or none is open; `stop` ends the wait early.
    func waitForRoom(fed: [Int], batch: Int, stop: () -> Bool) {
        var lastTaken = -1
        var since = Date()
        while !stop() {
            // Closed lanes are fed through the store and never waited for.
            let (open, mustWait, taken) = state.withLock { state -> ([Int], Bool, Int) in
                let open = fed.filter { state.lanes[$0].open }
                let full = !open.isEmpty
                    && (state.bytes >= byteCapacity || open.allSatisfy { state.lanes[$0].count + batch > capacity })
                return (open, full, open.reduce(0) { $0 + state.lanes[$1].taken })
            }
            guard mustWait else { return }
            if taken != lastTaken {
                lastTaken = taken
                since = Date()
            } else if Date().timeIntervalSince(since) >= patience {
                state.withLock { state in for lane in open { state.lanes[lane].open = false } }
                return
            }
            progressed.wait(until: Date(timeIntervalSinceNow: patience / 4))
        }
    }

    // MARK: Dispatch thread

    /// Takes up to `limit` deliveries queued for `lane`, oldest first.
    func take(_ lane: Int, limit: Int) -> [ClaimedDelivery] {
        guard limit > 0 else { return [] }
        let taken = state.withLock { state -> [ClaimedDelivery] in
            let taken = state.lanes[lane].queue.popFirst(limit)
            state.lanes[lane].taken += taken.count
            for delivery in taken { state.bytes -= delivery.footprint }
            return taken
        }
        if !taken.isEmpty { progressed.signal() }
        return taken
    }

    /// The lanes pushed to since the last call, each once: the dispatcher looks at those only,
    /// not at every lane.
    func takeFed() -> [Int] {
        state.withLock { state in
            defer { state.fed.removeAll(keepingCapacity: true) }
            for lane in state.fed { state.lanes[lane].listed = false }
            return state.fed
        }
    }

    /// Whether no lane has deliveries waiting here.
    var isEmpty: Bool { state.withLock { $0.bytes == 0 } }

    /// Reopens `lane`: a claim found nothing due for it in the store.
    func reopen(_ lane: Int) {
        state.withLock { $0.lanes[lane].open = true }
    }

    /// Whether `lane` has deliveries waiting here.
    func hasQueued(_ lane: Int) -> Bool {
        state.withLock { $0.lanes[lane].count > 0 }
    }
}
