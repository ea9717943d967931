import Foundation

/// Delivering: the dispatch thread claims due deliveries (through the store thread), signs each
/// attempt at send time, hands it to its sink, judges the outcome on the sink's schedule and hands
/// the attempt record back to the store thread. It never touches SQLite itself.
extension DeliveryRunner {
    /// How often an idle runner re-reads due times, to notice deliveries queued by another
    /// process (a `resend` while `run` is up). A timed wait, not a busy loop.
    static let refreshIntervalMs: Int64 = 1_000

    /// What the dispatch loop leaves behind when a stop ends it: deliveries claimed but never
    /// started, and the attempts the grace period cut off, judged `interrupted`.
    struct Leftovers {
        var unstarted: [String] = []
        var interrupted: [AttemptRecord] = []
    }

    func dispatchLoop(sinkStates: [SinkState] = []) -> Leftovers {
        var lanes: [SinkLane] = []
        // Lanes of pipelines swapped by a reconfiguration, still finishing their deliveries.
        var retiringLanes = Set<Int>()
        var layoutSeen = -1
        syncLanes(&lanes, retiring: &retiringLanes, seenVersion: &layoutSeen, scheduler: nil)
        // Each pass looks only at the lanes something happened to, in turn (see LaneScheduler).
        let scheduler = LaneScheduler(
            maxInFlight: lanes.map(\.maxInFlight), sharedLimits: lanes.map(\.sharedLimit), claimBytes: options.claimBytes,
            claimSize: options.claimSize)
        // SQLite work happens on the store thread; this one only hands it over (see StoreWorker).
        let storeWorker = StoreWorker(
            store: store, logger: logger, resultsReady: wakeup, leases: leases, onFailure: { [self] in noteFailure($0) },
            observer: options.observer,
            storeOperational: { [self] events in try storeOperational(events) },
            operationalSettled: { [self] count in
                operationalPending.subtract(count, ordering: .releasing)
                // A drain waiting only for these may end now, not at its next refresh.
                wakeup.signal()
            },
            sinkStateEvent: { [self] change in sinkStateEvent(for: change) },
            clock: clock, backlogLimit: options.operationalBacklogLimit)
        var stopDeadline: Int64?
        var onceCutoff: Int64?
        var lastRefresh = clock.nowMs()
        // Each sink's circuit breaker, shared by its lanes (see SinkCircuit).
        let board = CircuitBoard()
        for (index, lane) in lanes.enumerated() { board.attach(lane, index: index) }
        for stored in sinkStates {
            guard let circuit = board.circuit(pipeline: stored.pipeline, sink: stored.sink) else { continue }
            circuit.adopt(stored)
            if circuit.needsWrite { board.noteChanged(circuit, statusChanged: circuit.hasUnannounced) }
            if circuit.isHolding {
                for index in board.lanes(pipeline: stored.pipeline, sink: stored.sink) { handOff.close(index) }
            }
        }
        // Every lane asks the store once at the start: a previous run may have left work.
        scheduler.markAllReady()
        while true {
            syncLanes(&lanes, retiring: &retiringLanes, seenVersion: &layoutSeen, scheduler: scheduler)
            while board.attachedCount < lanes.count { board.attach(lanes[board.attachedCount], index: board.attachedCount) }
            let circuits = CircuitContext(lanes: lanes, board: board, storeWorker: storeWorker, scheduler: scheduler)
            record(judgeCompletions(lanes: lanes, scheduler: scheduler, circuits: circuits), storeWorker: storeWorker, scheduler: scheduler)
            let now = clock.nowMs()
            takeSinkStateResults(circuits, nowMs: now)
            for result in storeWorker.takeResults() {
                let lane = lanes[result.lane]
                let bytes = result.claimed.reduce(0) { $0 + $1.footprint }
                scheduler.claimAnswered(reserved: lane.claimReserve, count: result.claimed.count, bytes: bytes)
                lane.take(result, nowMs: now)
                // Nothing due in the store: fresh deliveries may skip it again (not while the
                // sink is held back: they wait in the store).
                if result.claimed.isEmpty, !lane.circuit.isHolding { handOff.reopen(result.lane) }
                scheduler.markReady(result.lane)
            }
            for answer in storeWorker.takeAdvances() { takeAdvance(answer, lanes: lanes, scheduler: scheduler, storeWorker: storeWorker) }
            for answer in storeWorker.takeMarks() { takeMark(answer, lanes: lanes, scheduler: scheduler, nowMs: now) }
            for lane in handOff.takeFed() { scheduler.markReady(lane) }
            var refreshing = false
            if newWork.exchange(false, ordering: .acquiring) {
                for lane in lanes { lane.invalidateDueTime() }
                scheduler.markAllReady()
                lastRefresh = now
                refreshing = true
            } else if now - lastRefresh >= Self.refreshIntervalMs {
                // One store query for the sinks with due work, not a claim per lane: an idle
                // node with 10,000 sinks spent a fifth of a core re-asking each of them every
                // second. Retries this runner judged wait in the timer heap already; the look
                // finds what others stored (a `resend`, another node, leases taken back).
                storeWorker.findDueSinks(nowMs: now, window: currentWindow)
                lastRefresh = now
                refreshing = true
            }
            if let due = storeWorker.takeDueSinks() {
                for sink in due {
                    for index in board.lanes(pipeline: sink.pipeline, sink: sink.sink) {
                        let lane = lanes[index]
                        // A lane claiming or holding claimed deliveries asks the store again
                        // by itself before it runs dry.
                        guard !lane.claimPending, !lane.hasClaimed, lane.dueCheckedAtMs <= now - Self.refreshIntervalMs else { continue }
                        lane.invalidateDueTime()
                        scheduler.markReady(index)
                    }
                }
            }
            if refreshing {
                // Another node, `sinks enable` or the admin API may have changed a sink's health.
                storeWorker.readSinkStates()
            }
            // Written before any claim asked for below: a resumed sink's due times move first.
            for write in board.takeWrites(nowMs: now, refreshing: refreshing) { storeWorker.writeSinkState(write) }
            for index in storedLanes.withLock({ stored -> Set<Int> in
                defer { stored.removeAll() }
                return stored
            }) {
                lanes[index].invalidateDueTime()
                scheduler.markReady(index)
            }
            scheduler.fireTimers(nowMs: now)
            if stopRequested.load(ordering: .relaxed) {
                if stopDeadline == nil { stopDeadline = now.saturatingAdd(options.grace.totalMilliseconds) }
                if scheduler.inFlight == 0 || now >= stopDeadline! {
                    return leftovers(lanes, storeWorker: storeWorker, scheduler: scheduler, board: board)
                }
            } else {
                let ingestDone = ingestFinished.load(ordering: .acquiring)
                let settlesAndExits = retiring.load(ordering: .acquiring) || nothingToFollow.load(ordering: .acquiring)
                let mode = settlesAndExits ? Mode.drain : options.mode
                if mode == .once, ingestDone, onceCutoff == nil { onceCutoff = now }
                // Work that falls due after the cutoff waits for the next `--once` run.
                let horizon = min(now, onceCutoff ?? now)
                var claims: [StoreWorker.ClaimRequest] = []
                for index in scheduler.takeReady() {
                    fill(
                        lanes[index], index: index, nowMs: horizon, armsTimer: onceCutoff == nil, storeWorker: storeWorker,
                        claims: &claims, scheduler: scheduler)
                }
                // The claims of one pass go to the store thread together, so they are answered
                // together: a lane whose claim came back first would otherwise take turns alone
                // (at start-up, a deep backlog's 512 before the other sinks' first deliveries).
                claimsAskedCount.add(claims.count, ordering: .relaxed)
                storeWorker.claim(claims)
                if !retiringLanes.isEmpty { finishSettledLanes(lanes, retiring: &retiringLanes, scheduler: scheduler) }
                // Every lane is looked at only once nothing runs anywhere: the end of a run.
                if ingestDone, !scheduler.hasReady, scheduler.inFlight == 0, scheduler.pendingClaims == 0, scheduler.pendingAdvances == 0,
                    operationalSettled,
                    handOff.isEmpty, lanes.allSatisfy(\.isIdle)
                {
                    switch mode {
                    case .once where lanes.allSatisfy({ ($0.nextDueMs ?? .max) > horizon || $0.isHeldBack }):
                        return leftovers(lanes, storeWorker: storeWorker, scheduler: scheduler, board: board)
                    case .drain where lanes.allSatisfy({ $0.nextDueMs == SinkLane.nothingDue || $0.isHeldBack }):
                        return leftovers(lanes, storeWorker: storeWorker, scheduler: scheduler, board: board)
                    default:
                        break
                    }
                }
            }
            let nextDue = scheduler.nextTimerMs() ?? SinkLane.nothingDue
            let deadline = min(nextDue, stopDeadline ?? .max, lastRefresh + Self.refreshIntervalMs)
            if !scheduler.hasReady, completions.withLock({ $0.isEmpty }), !newWork.load(ordering: .relaxed) {
                clock.sleep(untilMs: max(deadline, now), wakeup: wakeup)
            }
        }
    }

    /// Ends the loop: judges what finished, writes it and every claim still with the store
    /// thread, then gathers what is left in flight (see ``Leftovers``). The store calls that put
    /// those rows back happen in `run()`, once ingest has stopped handing deliveries over too.
    private func leftovers(_ lanes: [SinkLane], storeWorker: StoreWorker, scheduler: LaneScheduler, board: CircuitBoard) -> Leftovers {
        let circuits = CircuitContext(lanes: lanes, board: board, storeWorker: storeWorker, scheduler: scheduler)
        record(judgeCompletions(lanes: lanes, scheduler: scheduler, circuits: circuits), storeWorker: storeWorker, scheduler: scheduler)
        // Sink health changes and failure counts are stored before the end, and announced.
        for write in board.takeWrites(nowMs: clock.nowMs(), refreshing: true) { storeWorker.writeSinkState(write) }
        storeWorker.finish()
        for (write, written, _) in storeWorker.takeSinkStateResults().writes where written {
            if let change = write.announce { announce(change) }
        }
        var leftovers = Leftovers()
        for result in storeWorker.takeResults() { leftovers.unstarted += result.claimed.map(\.id) }
        for answer in storeWorker.takeAdvances() { leftovers.unstarted += answer.advance.claimed.map(\.delivery.id) }
        let now = clock.nowMs()
        for lane in lanes {
            leftovers.unstarted += lane.takeUnstarted().map(\.id)
            for (delivery, startedAtMs) in lane.started.values {
                leftovers.interrupted.append(AttemptRecord(
                    deliveryID: delivery.id, attempt: delivery.attempt, startedAtMs: startedAtMs,
                    durationMs: max(0, now - startedAtMs), errorClass: AttemptRecord.interruptedErrorClass,
                    errorMessage: "the stop's grace period ran out before the attempt finished; it may have reached the receiver",
                    outcome: .retry(atMs: now)))
            }
            lane.started.removeAll()
        }
        return leftovers
    }

    /// Starts as many attempts on `lane` as it has free slots, and asks for more deliveries
    /// before the lane runs dry, within the claim budget, by adding a claim to `claims`. When `armsTimer`, a lane
    /// with work due later is woken then (not after a `--once` run's cutoff: that work waits for
    /// the next run).
    private func fill(
        _ lane: SinkLane, index: Int, nowMs: Int64, armsTimer: Bool, storeWorker: StoreWorker, claims: inout [StoreWorker.ClaimRequest],
        scheduler: LaneScheduler
    ) {
        guard !lane.finished else {
            scheduler.endTurn(index)
            return
        }
        let gate = lane.circuit.gate(nowMs: nowMs)
        if case .closed(let untilMs) = gate {
            // Paused or disabled: nothing starts. Deliveries a claim brought meanwhile go back.
            if lane.hasClaimed {
                let back = lane.takeUnstarted()
                scheduler.released(bytes: back.reduce(0) { $0 + $1.footprint })
                storeWorker.release(back.map(\.id))
            }
            if armsTimer, let untilMs { scheduler.arm(index, atMs: untilMs) }
            // A shared slot reserved for it goes to the next lane in line.
            scheduler.endTurn(index)
            return
        }
        // A paused sink's probe: one attempt of the next due delivery.
        let clockMs = clock.nowMs()
        // Fewer while a 429 without Retry-After slows the sink down (see SinkThrottle).
        let slots = gate == .probe ? 1 : lane.inFlightLimit(nowMs: clockMs)
        var batch: [(ClaimedDelivery, DeliveryRequest)] = []
        // Set when the sink's rate limit held the lane back: it wakes when a token is there.
        var tokenReadyMs: Int64?
        defer {
            scheduler.endTurn(index)
            if let tokenReadyMs { scheduler.arm(index, notLaterThanMs: tokenReadyMs) }
            if !batch.isEmpty { startBlocking(batch, on: lane, index: index, nowMs: nowMs) }
            // Claimed a batch ahead, so the next one is there before the lane needs it.
            // Read again: a probe started by this turn closes the gate until it is judged, and
            // nothing more is claimed meanwhile.
            let gateNow = lane.circuit.gate(nowMs: nowMs)
            let probing = gateNow == .probe
            let limit = probing ? 1 : scheduler.claimLimit(lane: index)
            // A probe is due by the sink's own interval, not by its deliveries' (frozen)
            // schedules: it takes the oldest waiting delivery, due or not, as long as the store
            // may hold one; an empty answer is asked again only after a refresh interval.
            let wantsClaim = probing
                ? lane.nextDueMs == nil || (lane.nextDueMs != SinkLane.nothingDue && lane.dueCheckedAtMs <= nowMs - Self.refreshIntervalMs)
                : (lane.nextDueMs ?? .min) <= nowMs
            if gateNow == .closed(untilMs: nil) {
                // The probe is out: its judgement marks the lane ready again.
            } else if !lane.claimPending, lane.claimedCount <= limit / 2, wantsClaim,
                let reserved = scheduler.reserveClaim(lane: index, limit: limit, holdsNone: !lane.hasClaimed)
            {
                lane.claimPending = true
                lane.claimReserve = reserved
                claims.append(StoreWorker.ClaimRequest(
                    lane: index, sinkKey: lane.key, nowMs: nowMs, limit: limit, window: lane.window.intersection(currentWindow),
                    probe: probing))
            } else if armsTimer, !lane.claimPending, let due = lane.nextDueMs, due != SinkLane.nothingDue {
                if probing {
                    // Asked too recently: the probe asks again once the interval has passed.
                    let again = lane.dueCheckedAtMs.saturatingAdd(Self.refreshIntervalMs)
                    if again > nowMs { scheduler.arm(index, atMs: again) }
                } else if due > nowMs {
                    scheduler.arm(index, atMs: due)
                }
            }
            // Claimed deliveries (retries, backlog) first, then fresh ones handed over by ingest,
            // up to a window of them waiting. Their next attempts are marked started ahead, a
            // batch at a time, so the lane finds them ready as slots free up (see
            // SinkLane.takeToMark).
            if lane.claimedCount < slots {
                let fresh = handOff.take(index, limit: slots - lane.claimedCount)
                if !fresh.isEmpty {
                    scheduler.held(bytes: fresh.reduce(0) { $0 + $1.footprint })
                    lane.append(fresh)
                }
            }
            if let ids = lane.takeToMark(window: slots, nowMs: clockMs) {
                storeWorker.markStarted(StoreWorker.MarkRequest(lane: index, generation: lane.markGeneration, ids: ids))
            }
        }
        // Only deliveries whose attempt the store marked started are sent.
        while lane.inFlight < slots, lane.marked > 0, lane.circuit.gate(nowMs: nowMs) != .closed(untilMs: nil) {
            // Within the cap it shares with other sinks (its destination's connections).
            guard scheduler.mayStart(index) else { return }
            if let readyMs = lane.takeToken(nowMs: clockMs) {
                tokenReadyMs = readyMs
                return
            }
            guard let delivery = lane.nextClaimed() else { return }
            scheduler.released(bytes: delivery.footprint)
            if let leases, !leases.mayStart(delivery.id, nowMs: clock.nowMs()) {
                // Its lease could not be renewed for half a lease: another node may take it at
                // any moment, so it is not started here (see LeaseKeeper).
                leases.drop([delivery.id])
                logger.log(.warn, "not starting a delivery whose lease may have run out; the node that takes it back sends it", [
                    "delivery": delivery.id,
                ])
                continue
            }
            scheduler.started(index)
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
            lane.started[delivery.id] = (delivery, nowMs)
            if gate == .probe { lane.circuit.probeStarted(delivery.id) }
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

    /// Takes the store's answer to a lane's marks: the marked deliveries may be sent; those this
    /// node lost meanwhile are dropped from the lane (their new holder sends them); after a failed
    /// write the lane asks again a second later.
    private func takeMark(_ answer: StoreWorker.MarkResult, lanes: [SinkLane], scheduler: LaneScheduler, nowMs: Int64) {
        guard answer.lane < lanes.count else { return }
        let lane = lanes[answer.lane]
        if answer.failed {
            lane.markFailed(generation: answer.generation, retryAtMs: nowMs + Self.refreshIntervalMs)
            scheduler.arm(answer.lane, atMs: nowMs + Self.refreshIntervalMs)
            return
        }
        let dropped = lane.markAnswered(generation: answer.generation, lost: answer.lost)
        if !dropped.isEmpty {
            scheduler.released(bytes: dropped.reduce(0) { $0 + $1.footprint })
            leases?.drop(dropped.map(\.id))
            logger.log(.warn, "not starting deliveries another node took after their leases ran out", [
                "pipeline": lane.pipeline.name, "sink": lane.sink.name, "deliveries": String(dropped.count),
            ])
        }
        scheduler.markReady(answer.lane)
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
            let reason = planner.pipeline.filter.accepts(envelope.eventType)
                ? "the pipeline's filter.where no longer matches the event"
                : "the pipeline no longer subscribes to \(envelope.eventType)"
            return .failure(Unsent(result: .failure(DeliveryFailure(errorClass: "transform", message: reason, retryable: false))))
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

    /// Hands judged attempts, and the operational events they made, to the store thread. When
    /// some settled ordered deliveries, the write claims their keys' next ones (see
    /// ``takeAdvance(_:lanes:scheduler:storeWorker:)``), and the run does not end before it is
    /// answered.
    private func record(_ judged: JudgedAttempts, storeWorker: StoreWorker, scheduler: LaneScheduler) {
        if !judged.operational.isEmpty { operationalPending.add(judged.operational.count, ordering: .releasing) }
        let advancing = judged.settlesOrdered && !judged.records.isEmpty
        if advancing { scheduler.pendingAdvances += 1 }
        storeWorker.record(judged.records, operational: judged.operational, advancing: advancing)
    }

    /// Judged attempts to write, the operational events they made, and whether any settled an
    /// ordered delivery (its key's next one may go).
    struct JudgedAttempts {
        var records: [AttemptRecord] = []
        var operational: [EventEnvelope] = []
        var settlesOrdered = false
    }

    /// Judges finished attempts, freeing their lanes' slots at once, and returns the records to
    /// write with the operational events they made (a delivery failed, or succeeded after
    /// failed attempts).
    private func judgeCompletions(lanes: [SinkLane], scheduler: LaneScheduler, circuits: CircuitContext?) -> JudgedAttempts {
        let finished = completions.withLock { pending -> [Completion] in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        guard !finished.isEmpty else { return JudgedAttempts() }
        var settlesOrdered = false
        var operational: [EventEnvelope] = []
        // Looked up once per batch, and only when an attempt makes an event.
        var operationalWanted: Bool?
        var records: [AttemptRecord] = []
        records.reserveCapacity(finished.count)
        let now = clock.nowMs()
        var delta = Counters()
        for completion in finished {
            let lane = lanes[completion.lane]
            lane.inFlight -= 1
            // A slot is free: the lane's next turn may start another attempt, and so may the
            // next lane waiting for the limit it shares.
            scheduler.finished(completion.lane)
            let delivery = completion.delivery
            lane.started[delivery.id] = nil
            let attemptInRound = delivery.attempt - delivery.scheduleOffset
            var outcome = lane.decision(for: delivery).outcome(for: completion.result, attemptInRound: attemptInRound, nowMs: now)
            if case .httpStatus(429, let retryAfter, _) = completion.result,
                retryAfter.flatMap({ RetryAfter.delayMs($0, nowMs: now) }) == nil,
                lane.throttle.refused(startedAtMs: completion.startedAtMs, nowMs: now)
            {
                // The receiver is overwhelmed but did not say for how long: send less for a while.
                logger.log(.warn, "429 without Retry-After: slowing the sink down", [
                    "pipeline": lane.pipeline.name, "sink": lane.sink.name,
                    "pace": "\(Int((lane.throttle.share(nowMs: now) * 100).rounded()))% of max_in_flight and rate_limit",
                ])
            }
            if let circuits {
                let wasHolding = lane.circuit.isHolding
                outcome = judgeForCircuit(completion, lane: lane, outcome: outcome, nowMs: now, board: circuits.board)
                if wasHolding != lane.circuit.isHolding { circuitChanged(lane.circuit, circuits) }
            }
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
                // The next delivery of its key may go now: the store claims it with this record.
                if lane.sink.ordering != nil { settlesOrdered = true }
                delta.delivered += 1
                if attemptInRound > 1 { delta.retrying -= 1 }
            case .retry(let at):
                record.outcome = .retry(atMs: at)
                delta.retriesScheduled += 1
                // A delivery counts once however many retries it takes: from its first retry
                // scheduled to its last attempt.
                if attemptInRound == 1 { delta.retrying += 1 }
                lane.scheduleRetry(atMs: at)
                logAttempt(record, delivery: delivery, lane: lane, level: .warn, message: "attempt failed, retry scheduled", next: at)
            case .failed(let reason):
                record.outcome = .failed
                if lane.sink.ordering != nil { settlesOrdered = true }
                if record.errorMessage == nil { record.errorMessage = reason }
                delta.failed += 1
                if attemptInRound > 1 { delta.retrying -= 1 }
                logAttempt(record, delivery: delivery, lane: lane, level: .error, message: "delivery failed: \(reason)", next: nil)
            }
            options.observer?.attemptJudged(
                pipeline: lane.pipeline.name, sink: lane.sink.name, outcome: record.outcome, durationMs: record.durationMs)
            if let event = operationalEvent(for: delivery, record: record, outcome: outcome, nowMs: now) {
                if operationalWanted == nil { operationalWanted = hasOperationalPipelines() }
                if operationalWanted == true { operational.append(event) }
            }
            records.append(record)
        }
        counters.withLock { $0.add(delta) }
        return JudgedAttempts(records: records, operational: operational, settlesOrdered: settlesOrdered)
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
