import Synchronization
@testable import LoyaliHooks

/// A store that refuses writes on demand, as a full disk or a restarting database does: every
/// call is passed to `inner`, except the writes switched off, which throw an error that says the
/// store is unavailable (so the runner treats it as it would SQLITE_FULL or a lost connection).
final class FaultyStore: DeliveryStore {
    /// Which calls fail.
    struct Faults: OptionSet, Sendable {
        let rawValue: Int
        /// New deliveries (sources, serve's ingest, operational events).
        static let enqueue = Faults(rawValue: 1)
        /// Judged attempts.
        static let record = Faults(rawValue: 2)
        /// Claims of due deliveries.
        static let claim = Faults(rawValue: 4)
        static let all: Faults = [.enqueue, .record, .claim]
    }

    /// What a refused call throws.
    struct Unavailable: StoreEngineError, CustomStringConvertible {
        var unavailableReason: String? { "the test store refuses writes" }
        var description: String { "database or disk is full (injected)" }
    }

    let inner: any DeliveryStore
    private let faults = Mutex(Faults())
    /// Calls refused so far, by kind.
    let refused = Mutex<[String: Int]>([:])

    init(_ inner: any DeliveryStore) { self.inner = inner }

    /// Switches the given calls' failure on or off.
    func fail(_ which: Faults) { faults.withLock { $0 = which } }

    /// How many `kind` calls were refused.
    func refusedCount(_ kind: String) -> Int { refused.withLock { $0[kind] ?? 0 } }

    private func check(_ fault: Faults, _ kind: String) throws {
        guard faults.withLock({ $0.contains(fault) }) else { return }
        refused.withLock { $0[kind, default: 0] += 1 }
        throw Unavailable()
    }

    var engine: StoreEngine { inner.engine }
    var location: String { inner.location }
    var nodeID: String { inner.nodeID }
    var leaseMs: Int64 { inner.leaseMs }
    var isShared: Bool { inner.isShared }
    func otherNodes() throws -> Int { try inner.otherNodes() }
    var writeFailure: String? { inner.writeFailure }

    func enqueue(
        _ deliveries: [NewDelivery], checkpoint: (source: String, offset: Int64)?, nowMs: Int64, claiming: Set<Int>
    ) throws -> (inserted: Int, claimed: [ClaimedDelivery]) {
        try check(.enqueue, "enqueue")
        return try inner.enqueue(deliveries, checkpoint: checkpoint, nowMs: nowMs, claiming: claiming)
    }

    func checkpoint(source: String) throws -> Int64? { try inner.checkpoint(source: source) }

    func claimDue(sinkKey: (pipeline: String, sink: String), nowMs: Int64, limit: Int, window: CreationWindow) throws -> [ClaimedDelivery] {
        try check(.claim, "claim")
        return try inner.claimDue(sinkKey: sinkKey, nowMs: nowMs, limit: limit, window: window)
    }

    func claimProbe(sinkKey: (pipeline: String, sink: String), nowMs: Int64, window: CreationWindow) throws -> ClaimedDelivery? {
        try check(.claim, "claim")
        return try inner.claimProbe(sinkKey: sinkKey, nowMs: nowMs, window: window)
    }

    func nextDueMs(sinkKey: (pipeline: String, sink: String), window: CreationWindow) throws -> Int64? {
        try inner.nextDueMs(sinkKey: sinkKey, window: window)
    }

    func sinksWithDueWork(nowMs: Int64, window: CreationWindow) throws -> [(pipeline: String, sink: String)] {
        try inner.sinksWithDueWork(nowMs: nowMs, window: window)
    }

    func renewLeases(ids: [String], nowMs: Int64) throws -> [String] { try inner.renewLeases(ids: ids, nowMs: nowMs) }
    func markStarted(ids: [String]) throws -> [String] { try inner.markStarted(ids: ids) }
    func reclaimExpiredLeases(nowMs: Int64) throws -> Int { try inner.reclaimExpiredLeases(nowMs: nowMs) }

    func record(_ attempts: [AttemptRecord]) throws {
        try check(.record, "record")
        try inner.record(attempts)
    }

    func record(_ attempts: [AttemptRecord], advancingKeysAtMs nowMs: Int64) throws -> KeyAdvance {
        try check(.record, "record")
        return try inner.record(attempts, advancingKeysAtMs: nowMs)
    }

    func release(ids: [String]) throws -> Int { try inner.release(ids: ids) }
    func recoverInFlight() throws -> Int { try inner.recoverInFlight() }
    func list(_ filter: DeliveryQuery) throws -> [DeliverySummary] { try inner.list(filter) }
    func detail(id: String) throws -> (DeliverySummary, [AttemptRow])? { try inner.detail(id: id) }
    func resendReporting(ids: [String], nowMs: Int64) throws -> ResendResult { try inner.resendReporting(ids: ids, nowMs: nowMs) }
    func resend(matching filter: DeliveryQuery, nowMs: Int64) throws -> Int { try inner.resend(matching: filter, nowMs: nowMs) }
    func stats(sinceMs: Int64?) throws -> [SinkStats] { try inner.stats(sinceMs: sinceMs) }
    func counts() throws -> [DeliveryStatus: Int] { try inner.counts() }
    func outboxGauges() throws -> [OutboxGauge] { try inner.outboxGauges() }
    func schemaVersion() throws -> Int { try inner.schemaVersion() }

    func page(_ filter: DeliveryQuery, search: String?, untilMs: Int64?, before: DeliveryLogCursor?) throws -> DeliveryLogPage {
        try inner.page(filter, search: search, untilMs: untilMs, before: before)
    }

    func series(sinceMs: Int64, untilMs: Int64, bucketMs: Int64) throws -> [SeriesBucket] {
        try inner.series(sinceMs: sinceMs, untilMs: untilMs, bucketMs: bucketMs)
    }

    func body(id: String) throws -> [UInt8]? { try inner.body(id: id) }
    func sinkStates() throws -> [SinkState] { try inner.sinkStates() }

    func writeSinkState(_ state: SinkState, expectedVersion: Int64, nowMs: Int64) throws -> (written: Bool, current: SinkState) {
        try inner.writeSinkState(state, expectedVersion: expectedVersion, nowMs: nowMs)
    }
}
