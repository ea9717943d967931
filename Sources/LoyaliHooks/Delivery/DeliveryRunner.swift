import Foundation
import Synchronization

/// The durable runner: reads sources into the store's outbox, then delivers every due delivery to
/// its sink, signing each attempt at send time, recording every attempt, and retrying on each
/// sink's schedule until success or `failed`.
///
/// Two threads do the work, both dedicated (blocking SQLite and file I/O never touch Swift's
/// cooperative pool): the caller's thread ingests, and a dispatch thread claims, sends and records.
/// Sources are acknowledged only with the deliveries they produced: a file checkpoint moves in the
/// same transaction as its batch's outbox rows.
public final class DeliveryRunner: @unchecked Sendable {
    // Shared state is either immutable, in `Mutex`es, or touched only on the dispatch thread
    // (`lanes`, `pendingRecords`); `Wakeup` is thread-safe. That is why `@unchecked` is sound.

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
        /// Lines per ingest transaction.
        public var batchSize = 1_024
        /// Deliveries claimed from the store per lane at a time.
        public var claimSize = 512
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
    }

    let pipelines: [PipelineDefinition]
    let store: DeliveryStore
    let clock: any DeliveryClock
    let options: Options
    let logger: Logger
    let wakeup = Wakeup()
    /// The follower's pause between looks at its files; a stop cuts it short.
    let ingestPause = Wakeup()
    let stopRequested = Atomic<Bool>(false)
    private let ingestFinished = Atomic<Bool>(false)
    /// Set by ``retire()``: stop reading, deliver what is ours, then end.
    let retiring = Atomic<Bool>(false)
    /// Signalled once the ingest loop has returned.
    let ingestStopped = Wakeup()
    /// The deliveries this runner claims; new deliveries are stamped inside it.
    private let window: Mutex<CreationWindow>
    /// Set by ingest so the dispatcher forgets its cached due times and asks the store again.
    let newWork = Atomic<Bool>(false)
    /// Set by ingest when following was asked for but no source can be followed.
    let nothingToFollow = Atomic<Bool>(false)
    private let completions = Mutex<[Completion]>([])
    let counters = Mutex(Counters())
    let rejects: FileAppender?
    /// Where each followed file was left and the line number there, so a follower does not recount
    /// newlines on every look. Touched only by the ingest thread.
    var resumePoints: [String: (offset: Int64, line: Int)] = [:]

    private struct Completion: Sendable {
        let lane: Int
        let delivery: ClaimedDelivery
        let startedAtMs: Int64
        /// Taken when the attempt finished, not when it is recorded, so latency excludes queueing.
        let finishedAtMs: Int64
        let result: AttemptResult
    }

    public init(
        pipelines: [PipelineDefinition], store: DeliveryStore, clock: any DeliveryClock = SystemClock(),
        options: Options, logger: Logger
    ) {
        self.pipelines = pipelines
        self.store = store
        self.clock = clock
        self.options = options
        self.logger = logger
        self.rejects = options.rejectsPath.map(FileAppender.init(path:))
        self.window = Mutex(options.window)
    }

    /// A snapshot of the counters.
    public var snapshot: Counters { counters.withLock { $0 } }

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
    /// re-stamped inside this runner's window so the deliveries are this runner's to send.
    /// Returns how many rows were new. Blocking; call from a dedicated thread.
    @discardableResult
    public func enqueueIngested(_ rows: [NewDelivery], counters delta: Counters) throws -> Int {
        let stamp = creationStampMs()
        var stamped = rows
        for index in stamped.indices { stamped[index].createdAtMs = stamp }
        var delta = delta
        delta.enqueued = try store.enqueue(stamped, checkpoint: nil, nowMs: clock.nowMs())
        counters.withLock { $0.add(delta) }
        newWork.store(true, ordering: .releasing)
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
                            createdAtMs: createdAtMs, planningFailure: failure.description))
                    }
                case .deliver(let transformed, let encoder):
                    for sink in planner.pipeline.sinks {
                        let id = DeliveryID.make(eventID: transformed.eventID, pipeline: planner.pipeline.name, sink: sink.name)
                        rows.append(NewDelivery(
                            id: id, pipeline: planner.pipeline.name, sink: sink.name, eventID: transformed.eventID,
                            eventType: transformed.eventType, body: encoder.body(deliveryID: id),
                            schedule: sink.retry.schedule.map(\.totalMilliseconds), createdAtMs: createdAtMs))
                    }
                }
            }
        }
    }

    /// Runs to completion according to the mode. Blocks the calling thread.
    public func run() throws -> Counters {
        if options.recoversInFlight { try store.recoverInFlight() }
        let dispatcherDone = Wakeup()
        let finished = Thread { [self] in
            dispatchLoop()
            dispatcherDone.signal()
        }
        finished.name = "loyali-hooks.dispatch"
        finished.start()
        ingestAll()
        ingestFinished.store(true, ordering: .releasing)
        ingestStopped.signal()
        wakeup.signal()
        dispatcherDone.wait(until: nil)
        return snapshot
    }

    // MARK: Dispatch

    /// How often an idle runner re-reads due times, to notice deliveries queued by another
    /// process (a `resend` while `run` is up). A timed wait, not a busy loop.
    static let refreshIntervalMs: Int64 = 1_000

    private func dispatchLoop() {
        var lanes: [SinkLane] = []
        for pipeline in pipelines {
            for sink in pipeline.sinks { lanes.append(SinkLane(pipeline: pipeline, sink: sink)) }
        }
        // SQLite work happens on the store thread; this one only hands it over (see StoreWorker).
        let storeWorker = StoreWorker(store: store, logger: logger, resultsReady: wakeup)
        defer { storeWorker.finish() }
        var stopDeadline: Int64?
        var onceCutoff: Int64?
        var lastRefresh = clock.nowMs()
        while true {
            storeWorker.record(judgeCompletions(lanes: lanes))
            let now = clock.nowMs()
            for result in storeWorker.takeResults() { lanes[result.lane].take(result, nowMs: now) }
            if newWork.exchange(false, ordering: .acquiring) || now - lastRefresh >= Self.refreshIntervalMs {
                for lane in lanes where !lane.hasClaimed { lane.nextDueMs = nil }
                lastRefresh = now
            }
            if stopRequested.load(ordering: .relaxed) {
                if stopDeadline == nil { stopDeadline = now + options.grace.totalMilliseconds }
                if lanes.allSatisfy({ $0.inFlight == 0 }) || now >= stopDeadline! { break }
            } else {
                let ingestDone = ingestFinished.load(ordering: .acquiring)
                let settlesAndExits = retiring.load(ordering: .acquiring) || nothingToFollow.load(ordering: .acquiring)
                let mode = settlesAndExits ? Mode.drain : options.mode
                if mode == .once, ingestDone, onceCutoff == nil { onceCutoff = now }
                // Work that falls due after the cutoff waits for the next `--once` run.
                let horizon = min(now, onceCutoff ?? now)
                for (index, lane) in lanes.enumerated() { fill(lane, index: index, nowMs: horizon, storeWorker: storeWorker) }
                if ingestDone, lanes.allSatisfy(\.isIdle) {
                    switch mode {
                    case .once where lanes.allSatisfy({ ($0.nextDueMs ?? .max) > horizon }):
                        return
                    case .drain where lanes.allSatisfy({ $0.nextDueMs == SinkLane.nothingDue }):
                        return
                    default:
                        break
                    }
                }
            }
            let nextDue = lanes.filter { $0.inFlight < $0.maxInFlight && !$0.claimPending }.compactMap(\.nextDueMs).min()
                ?? SinkLane.nothingDue
            let deadline = min(nextDue, stopDeadline ?? .max, lastRefresh + Self.refreshIntervalMs)
            if completions.withLock({ $0.isEmpty }) && !newWork.load(ordering: .relaxed) {
                clock.sleep(untilMs: max(deadline, now), wakeup: wakeup)
            }
        }
    }

    /// Starts as many attempts on `lane` as it has free slots, and asks the store thread for more
    /// deliveries before the lane runs dry.
    private func fill(_ lane: SinkLane, index: Int, nowMs: Int64, storeWorker: StoreWorker) {
        var batch: [(ClaimedDelivery, DeliveryRequest)] = []
        defer {
            if !batch.isEmpty { startBlocking(batch, on: lane, index: index, nowMs: nowMs) }
            // Claimed a batch ahead, so the next one is there before the lane needs it.
            if !lane.claimPending, lane.claimedCount < options.claimSize / 2, (lane.nextDueMs ?? .min) <= nowMs {
                lane.claimPending = true
                storeWorker.claim(StoreWorker.ClaimRequest(
                    lane: index, sinkKey: lane.key, nowMs: nowMs, limit: options.claimSize, window: currentWindow))
            }
        }
        while lane.inFlight < lane.maxInFlight {
            guard let delivery = lane.nextClaimed() else { return }
            lane.inFlight += 1
            var body = delivery.body
            if let event = PlanningMarker.event(in: body) {
                switch Self.replan(event, delivery: delivery, planner: lane.planner) {
                case .success(let planned):
                    body = planned
                case .failure(let outcome):
                    complete(Completion(lane: index, delivery: delivery, startedAtMs: nowMs, finishedAtMs: nowMs, result: outcome.result))
                    continue
                }
            }
            // Signed now, at send time, so every attempt carries a fresh timestamp.
            let request = lane.planner.signedRequest(
                for: lane.sink, deliveryID: delivery.id, eventID: delivery.eventID, eventType: delivery.eventType,
                body: body, attempt: delivery.attempt, timestamp: nowMs / 1000)
            if let concurrent = lane.concurrent {
                let startedAt = nowMs
                concurrent.send(request) { [self] result in
                    complete(Completion(lane: index, delivery: delivery, startedAtMs: startedAt, finishedAtMs: clock.nowMs(), result: result))
                }
            } else {
                batch.append((delivery, request))
            }
        }
    }

    /// An attempt that ended before anything was sent.
    struct Unsent: Error {
        let result: AttemptResult
    }

    /// Runs the pipeline's filter and transform steps again over a delivery stored as the event
    /// was received (its first planning failed), giving the body to send or the attempt's result.
    static func replan(_ event: ArraySlice<UInt8>, delivery: ClaimedDelivery, planner: DeliveryPlanner) -> Result<[UInt8], Unsent> {
        let decoded = event.withUnsafeBufferPointer { line in
            Result { () throws(InputRejection) in try InputEventDecoder(ingestTime: "").decode(line, number: 1) }
        }
        guard case .success(let envelope) = decoded else {
            return .failure(Unsent(result: .failure(DeliveryFailure(
                errorClass: "transform", message: "the stored event cannot be read back", retryable: false))))
        }
        switch planner.plan(envelope) {
        case .deliver(_, let encoder):
            return .success(encoder.body(deliveryID: delivery.id))
        case .dropped:
            // A step now drops the event: there is nothing to send, which settles the delivery.
            return .failure(Unsent(result: .accepted))
        case .failed(let failure):
            return .failure(Unsent(result: .failure(DeliveryFailure(errorClass: "transform", message: failure.description, retryable: false))))
        case .notSubscribed:
            return .failure(Unsent(result: .failure(DeliveryFailure(
                errorClass: "transform", message: "the pipeline no longer subscribes to \(envelope.eventType)", retryable: false))))
        }
    }

    /// Hands a batch to a blocking sink's serial queue and reports the results together.
    private func startBlocking(_ batch: [(ClaimedDelivery, DeliveryRequest)], on lane: SinkLane, index: Int, nowMs: Int64) {
        let sink = lane.sink.sink
        lane.queue!.async { [self] in
            var finished: [Completion] = []
            finished.reserveCapacity(batch.count)
            for (delivery, request) in batch {
                let startedAt = clock.nowMs()
                let result: AttemptResult
                do throws(DeliveryFailure) {
                    try sink.deliver(request)
                    result = .accepted
                } catch {
                    result = .failure(error)
                }
                finished.append(Completion(lane: index, delivery: delivery, startedAtMs: startedAt, finishedAtMs: clock.nowMs(), result: result))
            }
            complete(finished)
        }
    }

    /// Queues finished attempts for the dispatch thread.
    private func complete(_ finished: [Completion]) {
        queueCompletions { $0.append(contentsOf: finished) }
    }

    /// ``complete(_:)`` for one attempt, the common case, without an array per attempt.
    private func complete(_ finished: Completion) {
        queueCompletions { $0.append(finished) }
    }

    /// Adds to the completion queue, waking the dispatch thread only if it may be asleep: it
    /// drains the whole queue whenever it wakes.
    private func queueCompletions(_ add: (inout [Completion]) -> Void) {
        let wasEmpty = completions.withLock { pending -> Bool in
            let empty = pending.isEmpty
            add(&pending)
            return empty
        }
        if wasEmpty { wakeup.signal() }
    }

    /// Judges finished attempts, freeing their lanes' slots at once, and returns the records to
    /// write.
    private func judgeCompletions(lanes: [SinkLane]) -> [AttemptRecord] {
        let finished = completions.withLock { pending -> [Completion] in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        guard !finished.isEmpty else { return [] }
        var records: [AttemptRecord] = []
        records.reserveCapacity(finished.count)
        let now = clock.nowMs()
        var delta = Counters()
        for completion in finished {
            let lane = lanes[completion.lane]
            lane.inFlight -= 1
            let delivery = completion.delivery
            let attemptInRound = delivery.attempt - delivery.scheduleOffset
            let outcome = lane.decision(for: delivery).outcome(for: completion.result, attemptInRound: attemptInRound, nowMs: now)
            var record = AttemptRecord(
                deliveryID: delivery.id, attempt: delivery.attempt, startedAtMs: completion.startedAtMs,
                durationMs: max(0, completion.finishedAtMs - completion.startedAtMs), httpStatus: nil, errorClass: nil, errorMessage: nil,
                responseSnippet: nil, outcome: .succeeded)
            switch completion.result {
            case .httpStatus(let status, _, let snippet):
                record.httpStatus = status
                record.responseSnippet = snippet
                if !(200...299).contains(status) { record.errorClass = "http_\(status / 100)xx" }
            case .accepted:
                break
            case .failure(let failure):
                record.errorClass = failure.errorClass
                record.errorMessage = failure.message
            }
            switch outcome {
            case .succeeded:
                record.outcome = .succeeded
                delta.delivered += 1
            case .retry(let at):
                record.outcome = .retry(atMs: at)
                delta.retriesScheduled += 1
                lane.scheduleRetry(atMs: at)
                logAttempt(record, delivery: delivery, lane: lane, level: .warn, message: "attempt failed, retry scheduled", next: at)
            case .failed(let reason):
                record.outcome = .failed
                if record.errorMessage == nil { record.errorMessage = reason }
                delta.failed += 1
                logAttempt(record, delivery: delivery, lane: lane, level: .error, message: "delivery failed: \(reason)", next: nil)
            }
            options.observer?.attemptJudged(
                pipeline: lane.pipeline.name, sink: lane.sink.name, outcome: record.outcome, durationMs: record.durationMs)
            records.append(record)
        }
        counters.withLock { $0.add(delta) }
        return records
    }

    private func logAttempt(
        _ record: AttemptRecord, delivery: ClaimedDelivery, lane: SinkLane, level: Logger.Level, message: String, next: Int64?
    ) {
        logger.log(level, message, [
            "pipeline": lane.pipeline.name, "sink": lane.sink.name, "delivery": delivery.id,
            "attempt": String(delivery.attempt),
            "status": record.httpStatus.map(String.init) ?? "-",
            "error": record.errorClass ?? "-",
            "next_attempt": next.map { RFC3339.format(unixSeconds: $0 / 1000) } ?? "-",
        ])
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
    }
}
