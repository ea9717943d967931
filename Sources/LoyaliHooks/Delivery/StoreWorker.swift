import Foundation
import Synchronization

/// The runner's store thread: it writes judged attempts and claims due deliveries, so that the
/// dispatch thread never waits for SQLite.
///
/// The ingest thread holds the store through each batch transaction and its fsync. When the
/// dispatch thread did its own writes it stalled behind those, and with it every sink lane:
/// finished requests waited to be judged while the network sat idle. Now the dispatch thread only
/// hands work over and picks results up; this thread does the waiting.
///
/// Each pass writes every attempt handed over so far in one transaction, then serves the claims
/// asked for, in that order: a claim never runs ahead of the outcomes judged before it.
///
/// `@unchecked Sendable`: the mutable state is behind `inbox` and `results`, both `Mutex`es, and
/// everything else (`store`, `logger`, the `Wakeup`s) is immutable or thread-safe itself.
final class StoreWorker: @unchecked Sendable {
    /// A claim for one lane: up to `limit` deliveries of `sinkKey` due at `nowMs`.
    struct ClaimRequest: Sendable {
        var lane: Int
        var sinkKey: (pipeline: String, sink: String)
        var nowMs: Int64
        var limit: Int
        var window: CreationWindow
        /// A paused sink's probe: one delivery, its oldest waiting, due or not (see
        /// ``DeliveryStore/claimProbe(sinkKey:nowMs:window:)``).
        var probe = false
    }

    /// What a claim found.
    struct ClaimResult: Sendable {
        var lane: Int
        var claimed: [ClaimedDelivery]
        /// When nothing was due: when the store next has work for the lane (``SinkLane/nothingDue``
        /// for none). After a failed claim: when to try again.
        var nextDueMs: Int64?
    }

    /// Deliveries of one lane whose next attempts are about to start, to mark started in the store
    /// (see ``DeliveryStore/markStarted(ids:)``).
    struct MarkRequest: Sendable {
        var lane: Int
        /// The lane's ``SinkLane/markGeneration`` when it asked.
        var generation: Int
        var ids: [String]
    }

    /// The store's answer to a ``MarkRequest``.
    struct MarkResult: Sendable {
        var lane: Int
        var generation: Int
        /// The ids the node no longer holds: they must not be sent.
        var lost: [String]
        /// The store could not write the marks: none of the deliveries may be sent yet.
        var failed: Bool
    }

    /// What recording attempts that settled ordered deliveries did for their keys (see
    /// ``DeliveryStore/record(_:advancingKeysAtMs:)``).
    struct AdvanceResult: Sendable {
        var advance: KeyAdvance
        /// How many ``record(_:operational:advancing:)`` calls with `advancing` this answers:
        /// each such call gets exactly one answer, written or not.
        var answers: Int
    }

    /// A sink state to write with a compare-and-set (see ``SinkCircuit``).
    struct SinkStateWrite: Sendable {
        var state: SinkState
        var expectedVersion: Int64
        var nowMs: Int64
        /// What to tell the observers if the write wins.
        var announce: SinkStateChange?
    }

    /// The store's answers about sink states.
    struct SinkStateResults: Sendable {
        /// Writes answered: whether each was written, the state stored now, and the write.
        var writes: [(write: SinkStateWrite, written: Bool, current: SinkState)] = []
        /// Every stored state, when a read was asked for.
        var read: [SinkState]?
    }

    private struct Inbox {
        var records: [AttemptRecord] = []
        /// Record calls among them whose attempts settled ordered deliveries.
        var advancing = 0
        var operational: [EventEnvelope] = []
        var claims: [ClaimRequest] = []
        var marks: [MarkRequest] = []
        var releases: [String] = []
        var stateWrites: [SinkStateWrite] = []
        var readsStates = false
        /// A look for sinks with due work (see ``findDueSinks(nowMs:window:)``).
        var dueSinks: (nowMs: Int64, window: CreationWindow)?
        var finishing = false

        var isEmpty: Bool {
            records.isEmpty && operational.isEmpty && claims.isEmpty && marks.isEmpty && releases.isEmpty && stateWrites.isEmpty
                && !readsStates && dueSinks == nil
        }

        mutating func merge(_ other: Inbox) {
            records += other.records
            advancing += other.advancing
            operational += other.operational
            claims += other.claims
            marks += other.marks
            releases += other.releases
            stateWrites += other.stateWrites
            readsStates = readsStates || other.readsStates
            dueSinks = other.dueSinks ?? dueSinks
            finishing = finishing || other.finishing
        }
    }

    /// Attempts worth a transaction of their own.
    static let recordBatchTarget = 512
    /// How long a smaller group of attempts waits for company. A commit rewrites every page it
    /// touched (the attempt log's tail, index leaves) whole, so fewer, larger transactions write
    /// less per attempt (7% fewer page writes over 20k deliveries when this was added). A crash
    /// re-sends, with the same ids, at most what finished in this window.
    static let recordWindow: Double = 0.002

    private let store: any DeliveryStore
    let logger: Logger
    private let leases: LeaseKeeper?
    private let inbox = Mutex(Inbox())
    private let results = Mutex<[ClaimResult]>([])
    private let markResults = Mutex<[MarkResult]>([])
    private let advances = Mutex<[AdvanceResult]>([])
    private let stateResults = Mutex(SinkStateResults())
    /// The answer to the last look for sinks with due work, until taken.
    private let dueSinkResults = Mutex<[(pipeline: String, sink: String)]?>(nil)
    /// Wakes this worker's thread for new work.
    private let work = Wakeup()
    /// Signalled when the thread has ended.
    private let ended = Wakeup()
    /// Wakes the dispatch thread when a claim result is ready.
    private let resultsReady: Wakeup

    /// Told why a write or claim failed (the message also goes to the log).
    let onFailure: @Sendable (String) -> Void
    /// Told of each store call that failed, for metrics.
    let observer: (any DeliveryObserver)?
    /// Plans and stores operational events (see `DeliveryRunner+Operational.swift`).
    let storeOperational: (@Sendable ([EventEnvelope]) throws -> Void)?
    /// Told how many operational events were settled: stored, or given up.
    let operationalSettled: @Sendable (Int) -> Void
    /// The `sink.*` event of a sink state change, counted as pending, or `nil` when no
    /// operational pipeline runs (see ``writeSinkState(_:backlog:finishing:)``).
    private let sinkStateEvent: @Sendable (SinkStateChange) -> EventEnvelope?
    /// Times the waits of operational events the store refused (see ``OperationalBacklog``), and
    /// says when ordered keys' next deliveries are due.
    let clock: any DeliveryClock
    private let backlogLimit: Int

    /// Starts the worker's thread. `resultsReady` is signalled whenever claim results arrive.
    /// `leases` (a shared store's) learns of each claim and each recorded outcome.
    /// `storeOperational` stores the operational events handed over with attempts, before the
    /// attempts themselves; events the store refuses are kept (at most `backlogLimit`) and tried
    /// again on `clock`, and `operationalSettled` is told of each once, stored or given up.
    init(
        store: any DeliveryStore, logger: Logger, resultsReady: Wakeup, leases: LeaseKeeper? = nil,
        onFailure: @escaping @Sendable (String) -> Void = { _ in },
        observer: (any DeliveryObserver)? = nil, storeOperational: (@Sendable ([EventEnvelope]) throws -> Void)? = nil,
        operationalSettled: @escaping @Sendable (Int) -> Void = { _ in },
        sinkStateEvent: @escaping @Sendable (SinkStateChange) -> EventEnvelope? = { _ in nil }, clock: any DeliveryClock = SystemClock(),
        backlogLimit: Int = OperationalBacklog.defaultLimit
    ) {
        self.leases = leases
        self.sinkStateEvent = sinkStateEvent
        self.observer = observer
        self.storeOperational = storeOperational
        self.operationalSettled = operationalSettled
        self.clock = clock
        self.backlogLimit = backlogLimit
        self.store = store
        self.logger = logger
        self.resultsReady = resultsReady
        self.onFailure = onFailure
        let thread = Thread { [self] in
            run()
            ended.signal()
        }
        // At most 15 characters: Linux drops longer thread names.
        thread.name = "loyali-store"
        thread.start()
    }

    /// Queues attempts to be written in the next transaction, and the operational events they
    /// made to be stored just before. With `advancing` (some attempts settled ordered
    /// deliveries), the write also claims their keys' next deliveries, and one
    /// ``AdvanceResult`` answers the call (see ``takeAdvances()``).
    func record(_ records: [AttemptRecord], operational: [EventEnvelope] = [], advancing: Bool = false) {
        guard !records.isEmpty || !operational.isEmpty else { return }
        let wake = inbox.withLock { inbox -> Bool in
            let wasIdle = inbox.isEmpty
            let before = inbox.records.count
            inbox.records.append(contentsOf: records)
            if advancing, !records.isEmpty { inbox.advancing += 1 }
            inbox.operational.append(contentsOf: operational)
            return wasIdle || !operational.isEmpty
                || (before < Self.recordBatchTarget && inbox.records.count >= Self.recordBatchTarget)
        }
        if wake { work.signal() }
    }

    /// Asks for claims; their results come back through ``takeResults()``, all in one go.
    func claim(_ requests: [ClaimRequest]) {
        guard !requests.isEmpty else { return }
        inbox.withLock { $0.claims.append(contentsOf: requests) }
        work.signal()
    }

    /// Asks for deliveries' next attempts to be marked started; the answer comes back through
    /// ``takeMarks()``. Served at the start of the next pass, before the attempts handed over, so
    /// a lane waiting to send does not wait for a batch of records.
    func markStarted(_ request: MarkRequest) {
        guard !request.ids.isEmpty else { return }
        inbox.withLock { $0.marks.append(request) }
        work.signal()
    }

    /// The mark answers that have arrived since the last call.
    func takeMarks() -> [MarkResult] {
        markResults.withLock { results in
            defer { results.removeAll(keepingCapacity: true) }
            return results
        }
    }

    /// Puts claimed deliveries that will not be started (their sink was paused) back in the
    /// queue, due as they were, after the attempts handed over before.
    func release(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        inbox.withLock { $0.releases += ids }
        work.signal()
    }

    /// Asks for a sink state write; written after the attempts handed over before it and before
    /// any claim asked for after it. The answer comes back through ``takeSinkStateResults()``.
    func writeSinkState(_ write: SinkStateWrite) {
        inbox.withLock { $0.stateWrites.append(write) }
        work.signal()
    }

    /// Asks for every stored sink state (another node or the CLI may have changed one).
    func readSinkStates() {
        inbox.withLock { $0.readsStates = true }
        work.signal()
    }

    /// Asks which sinks have deliveries inside `window` due at `nowMs`, whoever stored them (a
    /// `resend`, another node); the answer comes back through ``takeDueSinks()``. One query
    /// whose cost follows the sinks with unsettled work, instead of a claim per lane.
    func findDueSinks(nowMs: Int64, window: CreationWindow) {
        inbox.withLock { $0.dueSinks = (nowMs, window) }
        work.signal()
    }

    /// The sinks the last ``findDueSinks(nowMs:window:)`` found, once; `nil` when no answer
    /// came since the last call.
    func takeDueSinks() -> [(pipeline: String, sink: String)]? {
        dueSinkResults.withLock { results in
            defer { results = nil }
            return results
        }
    }

    /// The sink state answers that have arrived since the last call.
    func takeSinkStateResults() -> SinkStateResults {
        stateResults.withLock { results in
            defer { results = SinkStateResults() }
            return results
        }
    }

    /// The answers to record calls with `advancing` that have arrived since the last call.
    func takeAdvances() -> [AdvanceResult] {
        advances.withLock { results in
            defer { results.removeAll(keepingCapacity: true) }
            return results
        }
    }

    /// The claim results that have arrived since the last call.
    func takeResults() -> [ClaimResult] {
        results.withLock { results in
            defer { results.removeAll(keepingCapacity: true) }
            return results
        }
    }

    /// Writes everything handed over, serves the claims asked for, then ends the thread; returns
    /// once it has. Call once, when the dispatch thread is done.
    func finish() {
        inbox.withLock { $0.finishing = true }
        work.signal()
        ended.wait(until: nil)
    }

    /// How long attempts the store could not take (a full disk) wait before the next try.
    static let unwrittenRetryInterval: Double = 1
    /// Attempts kept for another try at most; older ones are given up (their deliveries stay in
    /// flight, and the next start recovers them, counted).
    static let unwrittenLimit = 100_000

    private func run() {
        // Judged attempts the store could not take for want of disk: written as soon as it can,
        // so their deliveries do not stay in flight once the disk has room again.
        var unwritten: [AttemptRecord] = []
        // Operational events the store refused, and the attempts that made them, which wait.
        var backlog = OperationalBacklog(limit: backlogLimit)
        var held: [AttemptRecord] = []
        // Whether `unwritten` or `held` may hold attempts that settled ordered deliveries.
        var carryAdvancing = false
        while true {
            var taken = takeInbox()
            if taken.isEmpty {
                if unwritten.isEmpty, backlog.isEmpty {
                    if taken.finishing { return }
                    work.wait(until: nil)
                    continue
                }
                if !taken.finishing {
                    if !unwritten.isEmpty {
                        work.wait(until: Date(timeIntervalSinceNow: Self.unwrittenRetryInterval))
                    } else if !backlog.isDue(nowMs: clock.nowMs()) {
                        clock.sleep(untilMs: backlog.nextTryMs, wakeup: work)
                    }
                    taken.merge(takeInbox())
                }
            } else {
                // Attempts wait for company; marks asked for meanwhile are served at once, since
                // lanes wait for them to send, and do not cut the group short. Woken early by a
                // claim, a full batch or `finish`.
                let deadline = Date(timeIntervalSinceNow: Self.recordWindow)
                while true {
                    if !taken.marks.isEmpty {
                        serve(taken.marks)
                        taken.marks.removeAll()
                    }
                    guard taken.claims.isEmpty, taken.operational.isEmpty, !taken.finishing,
                        taken.records.count < Self.recordBatchTarget, Date() < deadline
                    else { break }
                    work.wait(until: deadline)
                    taken.merge(takeInbox())
                }
            }
            if !taken.marks.isEmpty { serve(taken.marks) }
            // Before the attempts that made them: a crash in between sends an event twice (with
            // the same id, so once per subscription), never loses one.
            if storeOperational != nil, !taken.operational.isEmpty || !backlog.isEmpty {
                storeOperational(taken.operational, backlog: &backlog, finishing: taken.finishing)
            }
            var records = unwritten + taken.records
            if !held.isEmpty || !backlog.isEmpty {
                // An attempt is written only once the event it made is stored (or given up).
                let split = backlog.partition(held + records)
                (records, held) = (split.free, split.held)
            }
            // Every record call that asked is answered once, whether its attempts were written now.
            let advancing = taken.advancing > 0 || carryAdvancing
            var answer = AdvanceResult(advance: KeyAdvance(), answers: taken.advancing)
            if !records.isEmpty {
                do {
                    if advancing {
                        let now = clock.nowMs()
                        answer.advance = try store.record(records, advancingKeysAtMs: now)
                        leases?.drop(records.map(\.deliveryID))
                        leases?.hold(answer.advance.claimed.map(\.delivery.id), confirmedAtMs: now)
                    } else {
                        try store.record(records)
                        leases?.drop(records.map(\.deliveryID))
                    }
                    if !unwritten.isEmpty { logger.log(.info, "recording attempts works again", ["attempts": String(records.count)]) }
                    unwritten = []
                    // The store takes writes again: the events waiting for it go next.
                    if !backlog.isEmpty { backlog.retrySoon() }
                } catch where WriteHealth.isStoreUnavailable(error) && !taken.finishing {
                    observer?.storeWriteFailed(operation: "record")
                    if unwritten.isEmpty {
                        logger.log(.error, "recording attempts failed; trying again until the store takes writes", ["error": "\(error)"])
                        onFailure("attempts could not be recorded for a while: \(error)")
                    }
                    unwritten = Array(records.suffix(Self.unwrittenLimit))
                } catch {
                    observer?.storeWriteFailed(operation: "record")
                    logger.log(.error, "recording attempts failed", ["error": "\(error)"])
                    // Their deliveries stay in flight; the next start recovers them, counted.
                    onFailure("\(Plural.count(records.count, "attempt")) could not be recorded: \(error)")
                    unwritten = []
                }
            }
            carryAdvancing = advancing && (!unwritten.isEmpty || !held.isEmpty)
            if answer.answers > 0 || !answer.advance.claimed.isEmpty || !answer.advance.waiting.isEmpty {
                advances.withLock { $0.append(answer) }
                resultsReady.signal()
            }
            if !taken.releases.isEmpty {
                do {
                    try store.release(ids: taken.releases)
                    leases?.drop(taken.releases)
                } catch {
                    // They stay in flight under this node; a restart (or another node once the
                    // lease runs out) puts them back.
                    logger.log(.error, "putting the deliveries of a paused sink back in the queue failed", ["error": "\(error)"])
                }
            }
            if !taken.stateWrites.isEmpty || taken.readsStates {
                var answers = SinkStateResults()
                for write in taken.stateWrites {
                    do {
                        let (written, current) = try writeSinkState(write, backlog: &backlog, finishing: taken.finishing)
                        answers.writes.append((write, written, current))
                    } catch {
                        logger.log(.error, "storing a sink's health failed; trying again", [
                            "sink": "\(write.state.pipeline)/\(write.state.sink)", "error": "\(error)",
                        ])
                        // Answered as lost against the state it was based on: the circuit keeps
                        // its view and writes it again at its next change or refresh.
                        var based = write.state
                        based.version = write.expectedVersion
                        answers.writes.append((write, false, based))
                    }
                }
                if taken.readsStates {
                    do {
                        answers.read = try store.sinkStates()
                    } catch {
                        logger.log(.warn, "reading sink health states failed", ["error": "\(error)"])
                    }
                }
                stateResults.withLock { results in
                    results.writes += answers.writes
                    if let read = answers.read { results.read = read }
                }
                resultsReady.signal()
            }
            if let look = taken.dueSinks {
                do {
                    let sinks = try store.sinksWithDueWork(nowMs: look.nowMs, window: look.window)
                    dueSinkResults.withLock { $0 = ($0 ?? []) + sinks }
                    resultsReady.signal()
                } catch {
                    // The next refresh looks again.
                    logger.log(.warn, "looking for sinks with due deliveries failed", ["error": "\(error)"])
                }
            }
            if !taken.claims.isEmpty {
                let served = taken.claims.map(serve)
                results.withLock { $0.append(contentsOf: served) }
                resultsReady.signal()
            }
        }
    }

    /// Writes a sink state with its compare-and-set. A status change to announce goes in three
    /// steps when an operational pipeline runs: the state, marked not announced and with the
    /// change's kind; then its `sink.*` event; then the mark that it was announced. A crash (or
    /// a store refusing writes) anywhere in between leaves the change not announced in the
    /// store, and whoever reads it next (this node's next start, another node) makes the event
    /// again, with the same derived id, so it is stored once and never lost. Returns whether
    /// the state is written (the event's fate aside) and the state stored now: a loss of the
    /// last step means another node's write won, and that node announces.
    private func writeSinkState(
        _ write: SinkStateWrite, backlog: inout OperationalBacklog, finishing: Bool
    ) throws -> (written: Bool, current: SinkState) {
        guard let change = write.announce, storeOperational != nil, let event = sinkStateEvent(change) else {
            return try store.writeSinkState(write.state, expectedVersion: write.expectedVersion, nowMs: write.nowMs)
        }
        var unannounced = write.state
        unannounced.announced = false
        unannounced.lastChange = change.kind
        let stored: (written: Bool, current: SinkState)
        do {
            stored = try store.writeSinkState(unannounced, expectedVersion: write.expectedVersion, nowMs: write.nowMs)
        } catch {
            operationalSettled(1)
            throw error
        }
        guard stored.written else {
            operationalSettled(1)
            return stored
        }
        // Not stored yet: it waits in the backlog, and the state stays not announced.
        guard storeOperational([event], backlog: &backlog, finishing: finishing) else { return stored }
        var announced = stored.current
        announced.announced = true
        return try store.writeSinkState(announced, expectedVersion: stored.current.version, nowMs: write.nowMs)
    }

    private func takeInbox() -> Inbox {
        inbox.withLock { inbox -> Inbox in
            defer {
                inbox.records.removeAll(keepingCapacity: true)
                inbox.advancing = 0
                inbox.operational.removeAll(keepingCapacity: true)
                inbox.claims.removeAll(keepingCapacity: true)
                inbox.marks.removeAll(keepingCapacity: true)
                inbox.releases.removeAll()
                inbox.stateWrites.removeAll()
                inbox.readsStates = false
                inbox.dueSinks = nil
            }
            return inbox
        }
    }

    /// Marks every lane's requested deliveries started in one store call, and answers each lane.
    /// A failure counts as a failed claim in the metrics: the deliveries cannot be taken to send.
    private func serve(_ requests: [MarkRequest]) {
        var answers: [MarkResult]
        do {
            let lost = try store.markStarted(ids: requests.flatMap(\.ids))
            let lostSet = Set(lost)
            answers = requests.map { request in
                MarkResult(
                    lane: request.lane, generation: request.generation,
                    lost: lostSet.isEmpty ? [] : request.ids.filter { lostSet.contains($0) }, failed: false)
            }
        } catch {
            observer?.storeWriteFailed(operation: "claim")
            logger.log(.error, "marking attempts started failed; they wait", ["deliveries": String(requests.reduce(0) { $0 + $1.ids.count }), "error": "\(error)"])
            answers = requests.map { MarkResult(lane: $0.lane, generation: $0.generation, lost: [], failed: true) }
        }
        markResults.withLock { $0.append(contentsOf: answers) }
        resultsReady.signal()
    }

    private func serve(_ request: ClaimRequest) -> ClaimResult {
        do {
            let claimed = request.probe
                ? try store.claimProbe(sinkKey: request.sinkKey, nowMs: request.nowMs, window: request.window).map { [$0] } ?? []
                : try store.claimDue(sinkKey: request.sinkKey, nowMs: request.nowMs, limit: request.limit, window: request.window)
            if !claimed.isEmpty {
                leases?.hold(claimed.map(\.id), confirmedAtMs: request.nowMs)
                return ClaimResult(lane: request.lane, claimed: claimed, nextDueMs: nil)
            }
            let next = try store.nextDueMs(sinkKey: request.sinkKey, window: request.window)
            return ClaimResult(lane: request.lane, claimed: [], nextDueMs: next ?? SinkLane.nothingDue)
        } catch {
            observer?.storeWriteFailed(operation: "claim")
            logger.log(.error, "claiming deliveries failed", [
                "sink": "\(request.sinkKey.pipeline)/\(request.sinkKey.sink)", "error": "\(error)",
            ])
            onFailure("claiming deliveries of \(request.sinkKey.pipeline)/\(request.sinkKey.sink) failed: \(error)")
            return ClaimResult(lane: request.lane, claimed: [], nextDueMs: request.nowMs + 1_000)
        }
    }
}
