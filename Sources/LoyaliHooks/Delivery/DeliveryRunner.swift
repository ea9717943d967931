import Foundation
import Synchronization

/// The durable runner: reads sources into the store's outbox, then delivers every due delivery to
/// its sink, signing each attempt at send time, recording every attempt, and retrying on each
/// sink's schedule until success or `failed`.
///
/// Three dedicated threads do the work, so blocking SQLite and file I/O never touch Swift's
/// cooperative pool: the caller's thread ingests (`DeliveryRunner+Ingest.swift`), a dispatch
/// thread signs, sends and judges (`DeliveryRunner+Dispatch.swift`), and a store thread claims and
/// records for it (``StoreWorker``). Fresh deliveries due at once skip the claim: ingest stores
/// them claimed and hands them over in memory (``HandOff``). Sinks bring their own threads: the
/// HTTP client's curl threads, a serial queue per file or stdout sink.
/// Sources are acknowledged only with the deliveries they produced: a file checkpoint moves in the
/// same transaction as its batch's outbox rows.
public final class DeliveryRunner: @unchecked Sendable {
    // Shared state is either immutable, in `Mutex`es or atomics, or touched only on one thread
    // (the dispatch thread's lanes, the ingest thread's `resumePoints`); `Wakeup` is thread-safe.
    // That is why `@unchecked` is sound.

    /// When the runner stops.
    public enum Mode: Sendable {
        /// Keep running after the sources end, until stopped by a signal.
        case follow
        /// Exit once the sources are exhausted and every delivery succeeded or failed.
        case drain
        /// Deliver what is due now, then exit; retries wait for the next run (cron).
        case once
    }

    /// Settings of one run.
    public struct Options: Sendable {
        public var mode = Mode.drain
        /// Replaces every pipeline's source.
        public var input: InputStream?
        /// How long in-flight attempts may finish after a stop is requested.
        public var grace = Duration.seconds(10)
        /// Rejected lines go here too, as JSON lines.
        public var rejectsPath: String?
        /// Lines per ingest transaction at most.
        public var batchSize = 1_024
        /// Planned delivery bytes per ingest transaction, about: a batch is cut at whichever of
        /// this and ``batchSize`` comes first, so it holds about this much however many sinks an
        /// event fans out to.
        public var batchBytes = 4 << 20
        /// Deliveries claimed from the store per lane at a time, at most.
        public var claimSize = 512
        /// Bytes of fresh deliveries waiting in memory for their lanes (see ``HandOff``), at
        /// most; the rest waits in the store.
        public var handOffBytes = 16 << 20
        /// Bytes of claimed deliveries waiting in memory for a free slot, across all lanes,
        /// about: a lane claims only while the total is below it.
        public var claimBytes = 16 << 20
        /// Source kinds read by someone else: `serve` receives `http` sources itself and hands
        /// their events to ``enqueueIngested(_:counters:)``.
        public var externalSourceKinds: Set<String> = []
        /// Whether `run()` first puts deliveries a crash left in flight back in the queue. Off for
        /// a runner started beside another on the same store (a reload), whose in-flight attempts
        /// are not orphans.
        public var recoversInFlight = true
        /// Which deliveries this runner claims, by creation time; see ``CreationWindow``.
        public var window = CreationWindow.all
        /// Told about every judged attempt.
        public var observer: (any DeliveryObserver)?
        /// Whether a followed source whose deliveries cannot be stored (disk full) is tried again
        /// at the next look, as `serve` wants, instead of ending all reading, as `run` does.
        public var retriesStoreFailures = false
        /// Operational events kept in memory at most while the store refuses them; beyond it
        /// the oldest are given up, counted and logged (see ``OperationalBacklog``).
        public var operationalBacklogLimit = OperationalBacklog.defaultLimit
        /// Told when every lane of a pipeline definition replaced by
        /// ``DeliveryRunner/reconfigure(pipelines:changed:)`` has settled its deliveries.
        public var onRetiredPipelineFinished: (@Sendable (PipelineDefinition) -> Void)?
        public init() {}
    }

    /// Live counters for the progress line and the final summary.
    public struct Counters: Sendable, Equatable {
        public var eventsRead = 0
        public var rejected = 0
        public var enqueued = 0
        public var delivered = 0
        public var retriesScheduled = 0
        public var failed = 0
        public var transformFailures = 0
        /// Deliveries waiting for a retry: each counts once, however many retries it takes, from
        /// its first retry scheduled to its last attempt (``retriesScheduled`` counts retries).
        /// A delivery a previous run left retrying is not counted; its end is, so read this
        /// through ``retryingDeliveries``.
        public var retrying = 0
        /// Of `failed`, the deliveries stored failed because a transform step failed on their
        /// event (one per sink of the pipeline): the delivery log lists them as failed, so the
        /// summary counts them too.
        public var failedByTransforms = 0
        /// Sources that failed (could not be read, or their deliveries could not be stored).
        public var sourcesFailed = 0

        /// ``retrying``, never below zero.
        public var retryingDeliveries: Int { max(0, retrying) }
    }

    /// The pipelines and their sink lanes; ``reconfigure(pipelines:changed:)`` changes them.
    let layout: Mutex<RunnerLayout>
    /// ``RunnerLayout/version`` as last set, for threads to notice a change without the lock.
    let layoutVersion = Atomic<Int>(0)
    let store: any DeliveryStore
    let clock: any DeliveryClock
    let options: Options
    let logger: Logger
    let wakeup = Wakeup()
    /// The follower's pause between looks at its files; a stop cuts it short.
    let ingestPause = Wakeup()
    let stopRequested = Atomic<Bool>(false)
    let ingestFinished = Atomic<Bool>(false)
    /// Set by ``retire()``: stop reading, deliver what is ours, then end.
    let retiring = Atomic<Bool>(false)
    /// Signalled once the ingest loop has returned.
    let ingestStopped = Wakeup()
    /// The deliveries this runner claims; new deliveries are stamped inside it.
    private let window: Mutex<CreationWindow>
    /// Set when new work may be due for any lane (a resend, a new window), so the dispatcher
    /// forgets every cached due time and asks the store again.
    let newWork = Atomic<Bool>(false)
    /// The lanes ingest stored deliveries for (rather than handing them over): only their cached
    /// due times are stale, so only they ask the store again.
    let storedLanes = Mutex<Set<Int>>([])
    /// Set by ingest when following was asked for but no source can be followed.
    let nothingToFollow = Atomic<Bool>(false)
    let completions = Mutex<[Completion]>([])
    /// Claims handed to the store thread so far (see ``claimsAsked``).
    let claimsAskedCount = Atomic<Int>(0)
    /// Operational events handed to the store thread and not yet stored (see
    /// ``operationalSettled``).
    let operationalPending = Atomic<Int>(0)
    /// Why the run failed, beyond failed deliveries: each failed source and store, once.
    let failures = Mutex<[String]>([])
    let counters = Mutex(Counters())
    let rejects: FileAppender?
    /// Fresh deliveries passed from ingest straight to their lanes (see ``HandOff``).
    let handOff: HandOff
    /// On a store several nodes share: this node's leases, renewed, and other nodes' expired ones
    /// taken back (see ``LeaseKeeper``); `nil` on a store of one node.
    let leases: LeaseKeeper?
    /// Set once `run()` has put back what a crash left in flight. Only then may deliveries be
    /// stored as claimed: before, `serve` may already hand in events, and the recovery would make
    /// those due again and send them twice.
    let inFlightRecovered = Atomic<Bool>(false)
    struct LaneKey: Hashable {
        var pipeline: String
        var sink: String
    }
    /// Where each followed file was left and the line number there, so a follower does not recount
    /// newlines on every look. Touched only by the ingest thread.
    var resumePoints: [String: (offset: Int64, line: Int)] = [:]
    /// Checkpointed sources another node holds the lock of (a shared store), so this node says
    /// so once rather than at every look. Touched only by the ingest thread.
    var sourcesReadElsewhere: Set<String> = []

    struct Completion: Sendable {
        let lane: Int
        let delivery: ClaimedDelivery
        let startedAtMs: Int64
        /// Taken when the attempt finished, not when it is recorded, so latency excludes queueing.
        let finishedAtMs: Int64
        let result: AttemptResult
    }

    public init(
        pipelines: [PipelineDefinition], store: any DeliveryStore, clock: any DeliveryClock = SystemClock(),
        options: Options, logger: Logger
    ) {
        let layout = RunnerLayout(pipelines: pipelines)
        self.layout = Mutex(layout)
        self.store = store
        self.clock = clock
        self.options = options
        self.logger = logger
        self.rejects = options.rejectsPath.map(FileAppender.init(path:))
        self.window = Mutex(options.window)
        // Two batches' worth per lane: room for the next batch while the lane works on the last.
        self.handOff = HandOff(
            laneCount: layout.lanes.count, capacity: 2 * max(1, options.batchSize), byteCapacity: options.handOffBytes)
        self.leases = store.isShared ? LeaseKeeper(store: store, clock: clock, logger: logger) : nil
    }

    /// The pipelines running now.
    public var pipelines: [PipelineDefinition] { layout.withLock { $0.pipelines } }

    /// How many per-sink claims the runner has asked the store for: what its idle refresh costs
    /// shows here (tests).
    var claimsAsked: Int { claimsAskedCount.load(ordering: .relaxed) }

    /// A snapshot of the counters.
    public var snapshot: Counters { counters.withLock { $0 } }

    /// Why the run failed, beyond failed deliveries: a source that could not be read, deliveries
    /// or attempts that could not be stored. Each reason once, in order. A caller that finds any
    /// must not report success.
    public var failureReasons: [String] { failures.withLock { $0 } }

    /// Adds `reason` to ``failureReasons`` unless it is there already.
    func noteFailure(_ reason: String) {
        failures.withLock { if !$0.contains(reason) { $0.append(reason) } }
    }

    /// Asks the runner to stop: no more reading or claiming; in-flight attempts get the grace
    /// period. Safe from any thread (signal handlers call it).
    public func requestStop() {
        stopRequested.store(true, ordering: .relaxed)
        wakeup.signal()
        ingestPause.signal()
    }

    /// Ends this runner's reading and hands its sources on: it stops ingesting (a file source's
    /// checkpoint stays where it is, for the next runner), keeps delivering the deliveries created
    /// before the returned cut-off (retries included) as in drain mode, then `run()` returns.
    ///
    /// `serve` calls this on a configuration reload; the new runner gets the window from the
    /// cut-off on. Call ``waitUntilIngestStopped(timeout:)`` before another runner reads the same
    /// sources. Safe from any thread.
    @discardableResult
    public func retire() -> Int64 {
        let cutoff = window.withLock { window -> Int64 in
            let cutoff = max(clock.nowMs() + 1, window.fromMs ?? .min)
            window.beforeMs = min(cutoff, window.beforeMs ?? .max)
            return window.beforeMs!
        }
        retiring.store(true, ordering: .releasing)
        newWork.store(true, ordering: .releasing)
        wakeup.signal()
        ingestPause.signal()
        return cutoff
    }

    /// Waits until the ingest loop has returned (after ``retire()`` or a stop). Returns whether it
    /// did within `timeout`.
    @discardableResult
    public func waitUntilIngestStopped(timeout: Duration) -> Bool {
        if ingestFinished.load(ordering: .acquiring) { return true }
        let deadline = Date(timeIntervalSinceNow: Double(timeout.totalMilliseconds) / 1000)
        while !ingestFinished.load(ordering: .acquiring) {
            guard Date() < deadline else { return false }
            ingestStopped.wait(until: min(deadline, Date(timeIntervalSinceNow: 0.05)))
        }
        return true
    }

    /// Widens (or narrows) the deliveries this runner claims, e.g. once an older runner that
    /// shared the store has finished. Safe from any thread.
    public func setWindow(_ newWindow: CreationWindow) {
        window.withLock { $0 = newWindow }
        newWork.store(true, ordering: .releasing)
        wakeup.signal()
    }

    /// Tells the runner that the store has new due work (a resend), so it looks now rather than
    /// at its next periodic refresh. Safe from any thread.
    public func noteNewWork() {
        newWork.store(true, ordering: .releasing)
        wakeup.signal()
    }

    /// The deliveries this runner claims now.
    public var currentWindow: CreationWindow { window.withLock { $0 } }

    /// Whether ``retire()`` was called.
    public var isRetiring: Bool { retiring.load(ordering: .acquiring) }

    /// The current time moved into this runner's window: what a new delivery is stamped with.
    func creationStampMs() -> Int64 {
        window.withLock { $0.clamp(clock.nowMs()) }
    }

    /// Stores deliveries that came from outside the runner's own sources (`serve`'s HTTP ingest)
    /// in ONE transaction, counts them, and wakes the dispatcher. Each row's `createdAtMs` is
    /// re-stamped inside this runner's window so the deliveries are this runner's to send; those
    /// due at once go straight to their lanes, as from the runner's own sources (see
    /// ``HandOff``). Returns how many rows were new. Blocking; call from a dedicated thread.
    ///
    /// `plannedVersion` is the ``layoutVersion`` the rows were planned under (by default the
    /// current one): a pipeline swapped since sends them with the definition that planned them.
    @discardableResult
    public func enqueueIngested(_ rows: [NewDelivery], counters delta: Counters, plannedVersion: Int? = nil) throws -> Int {
        let stamp = creationStampMs()
        var stamped = rows
        for index in stamped.indices { stamped[index].createdAtMs = stamp }
        restamp(&stamped, plannedVersion: plannedVersion ?? layoutVersion.load(ordering: .acquiring))
        var delta = delta
        delta.enqueued = try storeAndHandOff(stamped, checkpoint: nil, nowMs: clock.nowMs())
        counters.withLock { $0.add(delta) }
        wakeup.signal()
        return delta.enqueued
    }

    /// Appends the outbox rows of one event, one per sink of every subscribing pipeline (after
    /// the pipeline's filter and transform steps), to `rows`. A transform failure produces no
    /// rows for that pipeline and is passed to `onTransformFailure`.
    public static func appendDeliveries(
        for envelope: EventEnvelope, planners: [DeliveryPlanner], createdAtMs: Int64, to rows: inout [NewDelivery],
        onTransformFailure: (DeliveryPlanner, TransformFailure) -> Void
    ) {
        appendDeliveries(for: [envelope], planners: planners, createdAtMs: createdAtMs, to: &rows) { planner, _, failure in
            onTransformFailure(planner, failure)
        }
    }

    /// The batch form: each pipeline plans the whole batch at once (a plugin step pipelines it to
    /// its processes instead of a round trip per event); rows come out in event order.
    public static func appendDeliveries(
        for envelopes: [EventEnvelope], planners: [DeliveryPlanner], createdAtMs: Int64, to rows: inout [NewDelivery],
        onTransformFailure: (DeliveryPlanner, EventEnvelope, TransformFailure) -> Void
    ) {
        let plans = planners.map { $0.plan(batch: envelopes) }
        for (index, envelope) in envelopes.enumerated() {
            for (planner, plans) in zip(planners, plans) {
                switch plans[index] {
                case .notSubscribed, .dropped:
                    continue
                case .failed(let failure):
                    onTransformFailure(planner, envelope, failure)
                    // Stored as failed with the reason and the event as received, so it shows in
                    // the delivery log and a resend runs the steps again (see `replan`).
                    let raw = PlanningMarker.body(for: envelope)
                    for sink in planner.pipeline.sinks {
                        rows.append(NewDelivery(
                            id: DeliveryID.make(eventID: envelope.eventID, pipeline: planner.pipeline.name, sink: sink.name),
                            pipeline: planner.pipeline.name, sink: sink.name, eventID: envelope.eventID,
                            eventType: envelope.eventType, body: raw, schedule: sink.retry.schedule.map(\.totalMilliseconds),
                            createdAtMs: createdAtMs, planningFailure: failure.description, orderKey: sink.ordering?.key(for: envelope)))
                    }
                case .deliver(let transformed, let encoder):
                    for sink in planner.pipeline.sinks {
                        let id = DeliveryID.make(eventID: transformed.eventID, pipeline: planner.pipeline.name, sink: sink.name)
                        rows.append(NewDelivery(
                            id: id, pipeline: planner.pipeline.name, sink: sink.name, eventID: transformed.eventID,
                            eventType: transformed.eventType, body: encoder.body(deliveryID: id),
                            schedule: sink.retry.schedule.map(\.totalMilliseconds), createdAtMs: createdAtMs,
                            // From the event as received, like filter.where: no step can move it.
                            orderKey: sink.ordering?.key(for: envelope)))
                    }
                }
            }
        }
    }

    /// Runs to completion according to the mode. Blocks the calling thread.
    public func run() throws -> Counters {
        if options.recoversInFlight { try store.recoverInFlight() }
        inFlightRecovered.store(true, ordering: .releasing)
        // Other nodes' work: deliveries of dead nodes taken back, and announcements of new work
        // (a shared store's `NOTIFY`), wake the dispatch loop at once.
        let wake: @Sendable () -> Void = { [self] in
            newWork.store(true, ordering: .releasing)
            wakeup.signal()
        }
        leases?.start(onReclaimed: wake)
        let notifier = (store as? PostgresDeliveryStore).map { PostgresNotifier(store: $0, onWake: wake) }
        defer {
            notifier?.stop()
            leases?.stop()
        }
        let dispatcherDone = Wakeup()
        let leftovers = Mutex(Leftovers())
        // Paused and disabled sinks stay so across a restart: the dispatcher starts from the
        // stored states.
        let sinkStates: [SinkState]
        do {
            sinkStates = try store.sinkStates()
        } catch {
            logger.log(.warn, "reading sink health states failed; every sink starts healthy until the next refresh", ["error": "\(error)"])
            sinkStates = []
        }
        let finished = Thread { [self] in
            let left = dispatchLoop(sinkStates: sinkStates)
            leftovers.withLock { $0 = left }
            dispatcherDone.signal()
        }
        finished.name = "loyali-hooks.dispatch"
        finished.start()
        ingestAll()
        ingestFinished.store(true, ordering: .releasing)
        ingestStopped.signal()
        wakeup.signal()
        dispatcherDone.wait(until: nil)
        putBack(leftovers.withLock { $0 })
        return snapshot
    }

    /// After a stop, leaves nothing of this runner `in_flight`: attempts the grace period cut off
    /// are logged as `interrupted` and due again (they count: they may have been sent), and
    /// deliveries handed to a lane but never started go back to the queue with no attempt. Runs
    /// once both the dispatch and the ingest thread are done, so no hand-off can follow it.
    private func putBack(_ leftovers: Leftovers) {
        var unstarted = leftovers.unstarted
        for lane in 0..<handOff.laneCount { unstarted += handOff.take(lane, limit: .max).map(\.id) }
        guard !unstarted.isEmpty || !leftovers.interrupted.isEmpty else { return }
        do {
            try store.record(leftovers.interrupted)
            let released = try store.release(ids: unstarted)
            leases?.drop(unstarted)
            logger.log(.info, "stopped with deliveries unfinished; they are due again", [
                "interrupted_attempts": String(leftovers.interrupted.count), "not_started": String(released),
            ])
        } catch {
            logger.log(.error, "putting unfinished deliveries back failed; the next start recovers them", ["error": "\(error)"])
            noteFailure("unfinished deliveries could not be put back in the queue (the next start recovers them): \(error)")
        }
    }
}

extension DeliveryRunner.Counters {
    mutating func add(_ other: Self) {
        eventsRead += other.eventsRead
        rejected += other.rejected
        enqueued += other.enqueued
        delivered += other.delivered
        retriesScheduled += other.retriesScheduled
        failed += other.failed
        transformFailures += other.transformFailures
        failedByTransforms += other.failedByTransforms
        retrying += other.retrying
        sourcesFailed += other.sourcesFailed
    }
}
