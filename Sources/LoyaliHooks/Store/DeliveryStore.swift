/// The contract every state store keeps: the outbox of deliveries, the attempt log, the source
/// checkpoints, and the leases that say which node is sending what. The runner, `serve` and the
/// read commands (`deliveries`, `show`, `stats`, `resend`, `store status`) talk only to this;
/// ``SQLiteDeliveryStore`` (one file in the state directory, the default) and the PostgreSQL
/// engine (shared by several nodes) implement it, and one contract test suite checks both.
///
/// **Batches.** Every write takes a whole batch (rows to enqueue, attempts to record, ids to
/// release or renew) and is ONE transaction: it happens entirely or not at all. The runner calls
/// each method once per batch, so a call through `any DeliveryStore` costs one dynamic dispatch
/// per batch, never one per delivery.
///
/// **Durability.** When ``enqueue(_:checkpoint:nowMs:claiming:)`` returns, its rows and its
/// checkpoint are committed and durable: the source position (or `serve`'s 202) may be
/// acknowledged. An engine may commit claims and attempt records less durably (SQLite skips their
/// fsync), as long as a crash can only make deliveries due again, never lose one.
///
/// **Leases.** A claimed delivery is `in_flight` under a lease: the claiming node's id
/// (``nodeID``) and a deadline, ``leaseMs`` after the claim. While the lease runs, no other node
/// may claim it. The holder extends it with ``renewLeases(ids:nowMs:)``; once it has run out
/// (the node died), ``reclaimExpiredLeases(nowMs:)`` puts the delivery back in the queue. A store not
/// ``isShared`` (SQLite: the state directory's lock admits one node) keeps the same columns but its
/// runner never needs to renew or reclaim.
///
/// **Started attempts.** A claim is not an attempt: a node claims ahead of what it sends. Before
/// handing a delivery to its sink the runner marks the attempt started (``markStarted(ids:)``),
/// a batch at a time. When a node's deliveries are put back after it died
/// (``reclaimExpiredLeases(nowMs:)``, or ``recoverInFlight()`` after a restart), only a delivery
/// with its attempt marked started gets an `interrupted` attempt in its log (it may have been
/// sent), counted against the node that held it, so the next attempt carries the next number. One
/// claimed but never marked goes back as ``release(ids:)`` puts it: no attempt logged, its attempt
/// count unchanged. So the log over-reports at most the deliveries marked and not yet handed over
/// when the node died (the runner marks at most a lane's in-flight limit ahead), and never
/// under-reports one that was sent.
///
/// **Threading.** A store is `Sendable` and may be shared between threads. Every method blocks on
/// disk or network I/O and may wait for a lock: **call it off Swift's cooperative pool** (from a
/// dedicated thread, as the runner does).
public protocol DeliveryStore: AnyObject, Sendable {
    // MARK: Identity

    /// Which engine this is.
    var engine: StoreEngine { get }
    /// Where the store lives, for messages: a database file, or a connection URL with any
    /// password removed.
    var location: String { get }
    /// The node this store acts for: the owner of its claims' leases, recorded with every attempt
    /// it logs.
    var nodeID: String { get }
    /// How long a claim's lease runs before other nodes may take the delivery, in ms.
    var leaseMs: Int64 { get }
    /// Whether other nodes claim from this store at the same time, so a runner must renew its
    /// leases and reclaim expired ones. `false` for SQLite, whose state directory admits one node.
    var isShared: Bool { get }
    /// How many other runner nodes work on this store now (each node's listener connection
    /// counts it), so a node reading a source leaves the work it has no room for to them instead
    /// of reading only as fast as it sends. Always 0 for a store that is not ``isShared``.
    /// Blocking.
    func otherNodes() throws -> Int
    /// Why the last write transaction failed because the store cannot take writes (a full disk,
    /// a lost database), or `nil` once one succeeds. Answers at once, without waiting for the
    /// store's lock.
    var writeFailure: String? { get }

    // MARK: Ingest

    /// Puts `deliveries` in the outbox and moves `checkpoint` forward, in ONE durable
    /// transaction, so a source position is never durable without the deliveries read before it.
    ///
    /// A delivery whose id is already stored is skipped (insert or ignore by id): a replay never
    /// makes a second row and never resets one that finished. The first attempt is due at
    /// `nowMs + schedule[0]`. Rows at the `claiming` indexes that are due at once are stored
    /// already claimed (`in_flight`, leased to ``nodeID``), so the runner can send them without
    /// claiming them back. A row with an ``NewDelivery/orderKey`` is stored claimed only when it
    /// is the head of its key: no delivery of its sink and key is pending, retrying or in flight,
    /// in the store or earlier in the batch (engines shared by nodes serialize the ordered rows
    /// of one sink across nodes, so the store order of a key is its commit order). Returns how
    /// many rows were new, and the first attempts of the claimed rows that were. Throws (and stores nothing) with kind `.invalidDelivery` for an empty or
    /// negative schedule, or on any engine failure.
    func enqueue(
        _ deliveries: [NewDelivery], checkpoint: (source: String, offset: Int64)?, nowMs: Int64, claiming: Set<Int>
    ) throws -> (inserted: Int, claimed: [ClaimedDelivery])

    /// The committed position of `source`, or `nil` if it has none yet.
    func checkpoint(source: String) throws -> Int64?

    // MARK: Claims and leases

    /// Claims up to `limit` deliveries of one sink that are due at `nowMs` (pending or retrying,
    /// next attempt at or before `nowMs`), oldest due first, created inside `window`, and marks
    /// them `in_flight` under a lease to ``nodeID`` until `nowMs + leaseMs`, in one transaction:
    /// no two claimers (threads, processes or nodes) ever get the same delivery.
    ///
    /// **Order.** A delivery with an ``NewDelivery/orderKey`` is claimed only while no delivery of
    /// the same sink and key stored before it is pending, retrying or in flight: one at a time
    /// per key, in the order the store took them in, across retries, restarts and nodes. Such a
    /// delivery waiting for its key does not count as due for ``nextDueMs(sinkKey:window:)``.
    func claimDue(
        sinkKey: (pipeline: String, sink: String), nowMs: Int64, limit: Int, window: CreationWindow
    ) throws -> [ClaimedDelivery]

    /// Claims the one delivery a paused sink's probe attempts (see ``SinkCircuit``): of the sink's
    /// waiting deliveries (pending or retrying) created inside `window`, the one due first, as
    /// ``claimDue(sinkKey:nowMs:limit:window:)`` would claim it, but whatever its due time: a
    /// paused sink's schedules stand still, and its probes go by the sink's own interval, not by
    /// them. An ordered sink's delivery is claimed only as the head of its key. Leased from `nowMs`.
    /// Returns `nil` when nothing is waiting.
    func claimProbe(sinkKey: (pipeline: String, sink: String), nowMs: Int64, window: CreationWindow) throws -> ClaimedDelivery?

    /// When the next delivery of one sink inside `window` is due (ms since the Unix epoch), or
    /// `nil` if none is waiting.
    func nextDueMs(sinkKey: (pipeline: String, sink: String), window: CreationWindow) throws -> Int64?

    /// The sinks with a delivery created inside `window` that is due at `nowMs` (pending or
    /// retrying, next attempt at or before `nowMs`), each once, in no particular order. A sink
    /// whose only due deliveries wait behind an earlier one of their ordering key may be listed.
    ///
    /// What the runner's periodic look for work stored by someone else (a `resend`, another
    /// node) asks, instead of asking every sink: it costs a few index seeks per sink with
    /// unsettled deliveries, and neither grows with sinks that have none nor with a sink's backlog.
    func sinksWithDueWork(nowMs: Int64, window: CreationWindow) throws -> [(pipeline: String, sink: String)]

    /// Extends to `nowMs + leaseMs` the leases this node holds on the deliveries `ids`. Returns
    /// the ids it no longer holds (finished, released, or taken by another node after the lease
    /// ran out), in the order given; their attempts' outcomes no longer decide their state.
    func renewLeases(ids: [String], nowMs: Int64) throws -> [String]

    /// Marks the attempt about to start (attempt count + 1) on each of the deliveries `ids` that
    /// this node holds in flight as started, in ONE transaction, before the runner hands them to
    /// their sinks: if the node dies now, the attempt is logged `interrupted` when the delivery is
    /// put back, since it may have been sent. Returns the ids this node no longer holds (released,
    /// finished, or taken by another node after the lease ran out), in the order given: those must
    /// not be sent. Leaves leases as they are (``renewLeases(ids:nowMs:)`` keeps them).
    func markStarted(ids: [String]) throws -> [String]

    /// Puts every delivery whose lease ran out before `nowMs` back in the queue, as
    /// ``recoverInFlight()`` does for a crash: one whose attempt was marked started
    /// (``markStarted(ids:)``) gets an `interrupted` attempt in its log, made by the node that held
    /// the lease, and is due at once with the next attempt number; one never started goes back as
    /// ``release(ids:)`` puts it, with no attempt. Returns how many went back, started or not.
    @discardableResult
    func reclaimExpiredLeases(nowMs: Int64) throws -> Int

    /// Logs a batch of finished attempts, each with ``nodeID`` as the node that made it, and
    /// applies each outcome to its delivery (status, attempt count, next attempt, last error), in
    /// ONE transaction. The runner decides outcomes; the store does not second-guess them, except
    /// that a delivery now in flight under ANOTHER node's lease is left to that node (the attempt
    /// is still logged). Throws with kind `.unknownDelivery` (and records nothing) if an id is
    /// not stored.
    func record(_ attempts: [AttemptRecord]) throws

    /// ``record(_:)``, and then (in the same transaction, or in one right after its commit: a
    /// settled head's next delivery is its key's head from then on) ordered delivery's fast path: for each
    /// key (sink and ``NewDelivery/orderKey``) whose delivery these attempts settled (succeeded
    /// or finally failed), the key's next unsettled delivery, its head now, is claimed for this
    /// node as ``claimDue(sinkKey:nowMs:limit:window:)`` would claim it, when it is due at
    /// `nowMs`, whatever its creation window. A head not due yet, or being claimed by another
    /// node, stays queued and its sink is named in ``KeyAdvance/waiting``.
    func record(_ attempts: [AttemptRecord], advancingKeysAtMs nowMs: Int64) throws -> KeyAdvance

    /// Puts deliveries this node claimed but never started back in the queue, due as they were
    /// and with no attempt logged: `retrying` if they have an attempt since the last resend, else
    /// `pending`. Rows no longer in flight under this node are left alone. Returns how many went
    /// back. A clean stop calls it.
    @discardableResult
    func release(ids: [String]) throws -> Int

    /// At startup, before any claim: each delivery a previous life of this node left
    /// `in_flight` with its attempt marked started (``markStarted(ids:)``) gets an `interrupted`
    /// attempt in its log (it may have been sent) and goes back to `retrying`, due at once, to be
    /// sent again with the same id and the next attempt number; one never started goes back as
    /// ``release(ids:)`` puts it, with no attempt. A store not ``isShared`` takes every in-flight
    /// delivery (the caller holds the state directory's lock); a shared one only those leased to
    /// ``nodeID``. Returns how many went back, started or not.
    @discardableResult
    func recoverInFlight() throws -> Int

    // MARK: The delivery log

    /// Deliveries matching `filter`, most recently enqueued first, at most `filter.limit`.
    func list(_ filter: DeliveryQuery) throws -> [DeliverySummary]

    /// One delivery and its attempts in order, or `nil` for an unknown id.
    func detail(id: String) throws -> (DeliverySummary, [AttemptRow])?

    /// Queues a fresh attempt, due at `nowMs`, for each id: status `pending`, the same id, the
    /// attempt number counting on, the retry schedule restarting from its first delay. Succeeded
    /// deliveries may be resent too (a manual resend is deliberate); in-flight ones are refused.
    /// One transaction; the refusals are told apart in it.
    func resendReporting(ids: [String], nowMs: Int64) throws -> ResendResult

    /// `resend --failed`: queues a fresh attempt for every FAILED delivery matching `filter` (its
    /// `status` and `limit` are ignored), as ``resendReporting(ids:nowMs:)`` does. Returns how
    /// many were queued.
    func resend(matching filter: DeliveryQuery, nowMs: Int64) throws -> Int

    /// The health table: one entry per (pipeline, sink) with activity since `sinceMs` (`nil`: all
    /// time), sorted by pipeline then sink, from one snapshot.
    func stats(sinceMs: Int64?) throws -> [SinkStats]

    /// How many deliveries are in each status (every status present, zero included).
    func counts() throws -> [DeliveryStatus: Int]

    /// The queue depth and failed count of every (pipeline, sink) that has either, sorted by
    /// pipeline then sink; cheap enough for every metrics scrape.
    func outboxGauges() throws -> [OutboxGauge]

    /// The schema version the store holds (the build's own once it is open).
    func schemaVersion() throws -> Int

    // MARK: The dashboard

    /// One page of the delivery log: deliveries matching `filter` (its `limit` is the page size),
    /// with activity before `untilMs` when given, whose delivery id is `search` or starts with it
    /// (a `whd_` prefix) or whose event id is `search`, sorted by latest activity (`updated_at`)
    /// then enqueue order, newest first, after the cursor `before` (`nil`: from the newest).
    /// Keyset paging on that order: a time window is a range of it, and every page costs the
    /// same however deep.
    func page(_ filter: DeliveryQuery, search: String?, untilMs: Int64?, before: DeliveryLogCursor?) throws -> DeliveryLogPage

    /// Attempts started in [`sinceMs`, `untilMs`) in buckets of `bucketMs` (> 0), oldest first,
    /// every bucket present, empty ones too: the dashboard's charts.
    func series(sinceMs: Int64, untilMs: Int64, bucketMs: Int64) throws -> [SeriesBucket]

    /// The stored envelope bytes of delivery `id` (exactly what was signed), or `nil` for an
    /// unknown id.
    func body(id: String) throws -> [UInt8]?

    // MARK: Sink health

    /// Every sink's stored health state (see ``SinkState``), sorted by pipeline then sink. A sink
    /// with none is healthy.
    func sinkStates() throws -> [SinkState]

    /// Writes `state` for its sink if the stored state's version is still `expectedVersion` (0:
    /// none is stored), as version `expectedVersion + 1`, in ONE transaction: a compare-and-set,
    /// so of several nodes making the same transition exactly one wins. When the stored state was
    /// paused or disabled since T (``SinkState/frozenSinceMs``) and `state` is healthy, every
    /// waiting delivery of the sink created at or before T and due after T is moved on by `nowMs - T`
    /// in the same transaction, so its schedule stood still meanwhile. Returns whether it was
    /// written, and the state stored now (the new one, or the one that won).
    func writeSinkState(_ state: SinkState, expectedVersion: Int64, nowMs: Int64) throws -> (written: Bool, current: SinkState)
}

extension DeliveryStore {
    /// ``enqueue(_:checkpoint:nowMs:claiming:)`` claiming nothing; returns how many rows were new.
    @discardableResult
    public func enqueue(_ deliveries: [NewDelivery], checkpoint: (source: String, offset: Int64)?, nowMs: Int64) throws -> Int {
        try enqueue(deliveries, checkpoint: checkpoint, nowMs: nowMs, claiming: []).inserted
    }

    /// ``claimDue(sinkKey:nowMs:limit:window:)`` over every creation time.
    public func claimDue(sinkKey: (pipeline: String, sink: String), nowMs: Int64, limit: Int) throws -> [ClaimedDelivery] {
        try claimDue(sinkKey: sinkKey, nowMs: nowMs, limit: limit, window: .all)
    }

    /// ``nextDueMs(sinkKey:window:)`` over every creation time.
    public func nextDueMs(sinkKey: (pipeline: String, sink: String)) throws -> Int64? {
        try nextDueMs(sinkKey: sinkKey, window: .all)
    }

    /// One sink's stored health state; a healthy one of version 0 when none is stored.
    public func sinkState(pipeline: String, sink: String) throws -> SinkState {
        try sinkStates().first { $0.pipeline == pipeline && $0.sink == sink } ?? SinkState(pipeline: pipeline, sink: sink)
    }

    /// Enables (`true`: a disabled or paused sink becomes healthy, counting from scratch) or
    /// disables a sink by hand, as
    /// `sinks enable|disable` and the admin API do, retrying the compare-and-set until it holds.
    /// The change is not announced: the runner that sees it first tells its observers. Returns
    /// the state before and after.
    @discardableResult
    public func setSinkEnabled(
        pipeline: String, sink: String, enabled: Bool, nowMs: Int64, by who: String
    ) throws -> (before: SinkState, after: SinkState) {
        while true {
            let before = try sinkState(pipeline: pipeline, sink: sink)
            var after = SinkState(pipeline: pipeline, sink: sink, announced: false, version: before.version)
            if enabled {
                guard before.status != .healthy else { return (before, before) }
                after.changedAtMs = nowMs
                after.reason = "enabled by \(who)"
            } else {
                guard before.status != .disabled else { return (before, before) }
                after.status = .disabled
                after.frozenSinceMs = before.frozenSinceMs ?? nowMs
                after.changedAtMs = nowMs
                after.consecutiveFailures = before.consecutiveFailures
                after.failingSinceMs = before.failingSinceMs
                after.reason = "disabled by \(who)"
            }
            after.lastChange = SinkStateChange(from: before.status, to: after)?.kind
            let (written, current) = try writeSinkState(after, expectedVersion: before.version, nowMs: nowMs)
            if written { return (before, current) }
        }
    }

    /// ``resendReporting(ids:nowMs:)``'s queued ids: an id missing from the result is unknown, or
    /// in flight right now.
    public func resend(ids: [String], nowMs: Int64) throws -> [String] {
        try resendReporting(ids: ids, nowMs: nowMs).queued
    }

    /// What `loyali-hooks store status` shows: the engine, where, the schema version and the
    /// counts by status.
    public func status() throws -> StoreStatus {
        StoreStatus(
            engine: engine, location: location, nodeID: nodeID, schemaVersion: try schemaVersion(), counts: try counts())
    }
}
