/// Operational events the store refused (a full disk, a database restarting), kept in memory
/// by the store thread and written again, with a growing wait between tries, until the store
/// takes them (see ``StoreWorker``).
///
/// Their ids derive from what they are about (``OperationalEvent``), so a retry after a write
/// whose outcome is unknown (the connection dropped during the commit) stores nothing twice.
///
/// The attempt records that made `delivery.*` events wait with them: an event is stored before
/// the attempt that made it, so a crash while it waits leaves that delivery in flight, and the
/// next start sends and judges it again, which makes the event again.
struct OperationalBacklog {
    /// Events kept at most; beyond it the oldest are given up (counted and logged).
    static let defaultLimit = 10_000
    /// The wait after the first refusal; it doubles after each refusal, up to ``maxRetryMs``.
    static let firstRetryMs: Int64 = 500
    static let maxRetryMs: Int64 = 30_000

    let limit: Int
    /// Oldest first.
    private(set) var events: [EventEnvelope] = []
    /// The deliveries whose `delivery.failed` or `delivery.recovered` is kept: their attempt
    /// records wait for it.
    private(set) var deliveryIDs: Set<String> = []
    /// When to try again, on the runner's clock.
    private(set) var nextTryMs: Int64 = .min
    private var intervalMs = firstRetryMs

    init(limit: Int = defaultLimit) {
        self.limit = max(1, limit)
    }

    var isEmpty: Bool { events.isEmpty }

    /// Whether the wait after the last refusal is over.
    func isDue(nowMs: Int64) -> Bool { nowMs >= nextTryMs }

    /// The store took everything kept: the next refusal starts the wait afresh.
    mutating func stored() {
        events = []
        deliveryIDs = []
        nextTryMs = .min
        intervalMs = Self.firstRetryMs
    }

    /// The store refused `batch` (the events kept before, then new ones) at `nowMs`: keeps it,
    /// within ``limit``, and waits longer before the next try. Returns the oldest events given
    /// up to stay within the limit.
    mutating func refused(_ batch: [EventEnvelope], nowMs: Int64) -> [EventEnvelope] {
        nextTryMs = nowMs.saturatingAdd(intervalMs)
        intervalMs = min(intervalMs * 2, Self.maxRetryMs)
        return keep(batch)
    }

    /// Adds events made while waiting for the next try. Returns the oldest given up.
    mutating func add(_ new: [EventEnvelope]) -> [EventEnvelope] {
        keep(events + new)
    }

    /// The store took another write: it may take these too, so try at the next pass.
    mutating func retrySoon() {
        nextTryMs = .min
    }

    /// Splits `records` into those free to be written and those whose event is kept here.
    func partition(_ records: [AttemptRecord]) -> (free: [AttemptRecord], held: [AttemptRecord]) {
        guard !deliveryIDs.isEmpty else { return (records, []) }
        var free: [AttemptRecord] = []
        var held: [AttemptRecord] = []
        for record in records {
            if deliveryIDs.contains(record.deliveryID) { held.append(record) } else { free.append(record) }
        }
        return (free, held)
    }

    private mutating func keep(_ batch: [EventEnvelope]) -> [EventEnvelope] {
        let over = max(0, batch.count - limit)
        events = Array(batch.dropFirst(over))
        deliveryIDs = Set(events.compactMap(Self.deliveryID))
        return Array(batch.prefix(over))
    }

    /// The delivery a `delivery.*` event is about (`nil` for a sink's event).
    static func deliveryID(of event: EventEnvelope) -> String? {
        event.data.objectValue?["delivery_id"]?.stringValue
    }
}
