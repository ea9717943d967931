import Foundation
import Synchronization

/// A runner's side of leases on a store several nodes share (``DeliveryStore/isShared``).
///
/// It knows which deliveries this node holds (claimed and not yet recorded) and when each lease
/// was last confirmed, and a thread of its own, every quarter lease:
/// - renews those leases, so a live node never loses a delivery it is sending, even while the
///   attempt outlasts a lease, nor one waiting in its lane;
/// - takes back the deliveries of nodes whose leases ran out (they died, or lost the database
///   for longer than a lease), and wakes the runner to send them.
///
/// A node that could not renew for half a lease (the database was out of reach) does not start
/// attempts on those deliveries any more: another node may take them once their leases run out,
/// and two live nodes must never send the same delivery at once. They stay claimed until their
/// lease runs out and whoever reclaims them first sends them.
final class LeaseKeeper: Sendable {
    private let store: any DeliveryStore
    private let clock: any DeliveryClock
    private let logger: Logger
    /// Each held delivery's id, and when (this node's clock, ms) its lease was last confirmed.
    private let held = Mutex<[String: Int64]>([:])
    private let thread: Mutex<PeriodicThread?> = Mutex(nil)

    /// A keeper for `store`'s leases; ``start(onReclaimed:)`` starts its thread.
    init(store: any DeliveryStore, clock: any DeliveryClock, logger: Logger) {
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    /// How often leases are renewed and expired ones looked for: a quarter lease (at least 50 ms).
    var interval: Duration { .milliseconds(max(50, store.leaseMs / 4)) }

    /// Starts the thread. `onReclaimed` is called after deliveries of dead nodes were put back in
    /// the queue.
    func start(onReclaimed: @escaping @Sendable () -> Void) {
        let periodic = PeriodicThread(name: "loyali-leases", interval: interval) { [self] stopping in
            if !stopping, tick() { onReclaimed() }
        }
        thread.withLock { $0 = periodic }
    }

    /// Stops the thread.
    func stop() {
        let periodic = thread.withLock { $0 }
        periodic?.stop(waitingUpTo: .seconds(10))
    }

    /// Notes deliveries this node just claimed, their leases confirmed at `nowMs`.
    func hold(_ ids: some Sequence<String>, confirmedAtMs nowMs: Int64) {
        held.withLock { held in for id in ids { held[id] = nowMs } }
    }

    /// Forgets deliveries whose outcome is recorded or which went back to the queue.
    func drop(_ ids: some Sequence<String>) {
        held.withLock { held in for id in ids { held[id] = nil } }
    }

    /// Whether an attempt at `id` may start at `nowMs`: its lease was confirmed less than half a
    /// lease ago. Unknown ids (not claimed through this keeper) may start.
    func mayStart(_ id: String, nowMs: Int64) -> Bool {
        guard let confirmed = held.withLock({ $0[id] }) else { return true }
        return nowMs - confirmed < store.leaseMs / 2
    }

    /// Renews, then reclaims; returns whether deliveries were reclaimed.
    @discardableResult
    func tick() -> Bool {
        let nowMs = clock.nowMs()
        let ids = held.withLock { Array($0.keys) }
        if !ids.isEmpty {
            do {
                let lost = Set(try store.renewLeases(ids: ids, nowMs: nowMs))
                held.withLock { held in
                    for id in ids where held[id] != nil { held[id] = lost.contains(id) ? nil : nowMs }
                }
                if !lost.isEmpty {
                    logger.log(.warn, "leases lost: other nodes took deliveries this node held", ["deliveries": String(lost.count)])
                }
            } catch {
                logger.log(.error, "renewing leases failed", ["deliveries": String(ids.count), "error": "\(error)"])
            }
        }
        do {
            let reclaimed = try store.reclaimExpiredLeases(nowMs: nowMs)
            if reclaimed > 0 {
                logger.log(.info, "took back deliveries whose leases ran out", ["deliveries": String(reclaimed)])
            }
            return reclaimed > 0
        } catch {
            logger.log(.error, "reclaiming expired leases failed", ["error": "\(error)"])
            return false
        }
    }
}
