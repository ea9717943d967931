import Synchronization

/// Operational events: the dispatch thread makes `delivery.failed` and `delivery.recovered` as it
/// judges attempts, the store thread plans and stores them through the same outbox ingest as any
/// source (``storeAndHandOff(_:checkpoint:nowMs:)``), in the pass that records the attempts and
/// before them, so an event is never lost to a crash between the two (see ``OperationalEvent``
/// for why it is not duplicated either).
extension DeliveryRunner {
    /// Whether any pipeline running now reads operational events; only then are they made.
    func hasOperationalPipelines() -> Bool {
        layout.withLock { $0.pipelines.contains(where: OperationalRouting.isOperational) }
    }

    /// The operational event for an attempt judged `outcome`, if it is one: the last attempt used
    /// up, or a success after failed attempts.
    func operationalEvent(for delivery: ClaimedDelivery, record: AttemptRecord, outcome: RetryDecision.Outcome, nowMs: Int64) -> EventEnvelope? {
        switch outcome {
        case .failed(let reason):
            return OperationalEvent.deliveryFailed(delivery, record: record, reason: reason, atMs: nowMs)
        case .succeeded where delivery.attempt > 1:
            return OperationalEvent.deliveryRecovered(delivery, record: record, atMs: nowMs)
        default:
            return nil
        }
    }

    /// The `sink.*` event of `change`, counted as pending until the store thread settles it, or
    /// `nil` when no operational pipeline runs. Its id derives from the sink and the time of the
    /// change, so two nodes announcing the same stored change, or a node making it again after a
    /// crash, make one event. The store thread stores it between the state and the mark that
    /// it was announced (see ``StoreWorker``).
    func sinkStateEvent(for change: SinkStateChange) -> EventEnvelope? {
        guard hasOperationalPipelines() else { return nil }
        let state = change.state
        let event = OperationalEvent.sinkState(
            pipeline: state.pipeline, sink: state.sink, transition: change.kind.rawValue, atMs: state.changedAtMs ?? clock.nowMs(),
            probeAtMs: change.kind == .paused ? state.nextProbeMs : nil,
            failingSinceMs: change.kind == .paused || change.kind == .disabled ? state.failingSinceMs : nil,
            consecutiveFailures: change.kind == .paused || change.kind == .disabled ? state.consecutiveFailures : nil,
            reason: state.reason)
        operationalPending.add(1, ordering: .releasing)
        return event
    }

    /// Plans `events` for every operational pipeline but the one each is about, and stores the
    /// deliveries in one transaction. Blocking; the store thread calls it.
    func storeOperational(_ events: [EventEnvelope]) throws {
        var (rows, delta) = operationalRows(for: events)
        guard !rows.isEmpty else { return }
        delta.enqueued = try storeAndHandOff(rows, checkpoint: nil, nowMs: clock.nowMs())
        counters.withLock { $0.add(delta) }
        wakeup.signal()
    }

    /// The deliveries of `events` for every operational pipeline but the one each is about,
    /// planned and stamped, with what they add to the counters.
    func operationalRows(for events: [EventEnvelope]) -> (rows: [NewDelivery], delta: Counters) {
        let (pipelines, version) = layout.withLock { ($0.pipelines.filter(OperationalRouting.isOperational), $0.version) }
        var rows: [NewDelivery] = []
        var delta = Counters()
        guard !pipelines.isEmpty, !events.isEmpty else { return (rows, delta) }
        var failures: [(String, String, String)] = []
        let createdAtMs = creationStampMs()
        // Events about one pipeline go together to all the others: never back to it (no loops).
        var byEmitter: [String: [EventEnvelope]] = [:]
        var order: [String] = []
        for event in events {
            let emitter = OperationalEvent.emitter(of: event) ?? ""
            if byEmitter[emitter] == nil { order.append(emitter) }
            byEmitter[emitter, default: []].append(event)
        }
        for emitter in order {
            let planners = pipelines.filter { $0.name != emitter }.map(DeliveryPlanner.init(pipeline:))
            guard !planners.isEmpty else { continue }
            let batch = byEmitter[emitter]!
            delta.eventsRead += batch.count
            Self.appendDeliveries(for: batch, planners: planners, createdAtMs: createdAtMs, to: &rows) { planner, envelope, failure in
                delta.transformFailures += 1
                delta.failed += planner.pipeline.sinks.count
                delta.failedByTransforms += planner.pipeline.sinks.count
                failures.append((planner.pipeline.name, envelope.eventID, failure.description))
            }
        }
        for (pipeline, event, error) in failures {
            logger.log(.error, "transform failed", ["pipeline": pipeline, "event": event, "error": error])
        }
        restamp(&rows, plannedVersion: version)
        return (rows, delta)
    }

    /// Adds to `rows` the deliveries of a `delivery.failed` for each row a transform step failed
    /// at ingest (stored failed, never attempted), so they go in the same transaction: the failed
    /// row and its event are stored together or not at all. Returns what they add to the counters.
    ///
    /// Costs one look at each row when no step failed.
    func appendIngestFailureEvents(to rows: inout [NewDelivery], nowMs: Int64) -> Counters {
        var delta = Counters()
        var start = rows.startIndex
        // An operational pipeline's own step may fail on such an event, which makes one for the
        // others; loading refuses circles, and the bound keeps the chain finite regardless.
        var rounds = 0
        while rounds <= OperationalEvent.maxChain, rows[start...].contains(where: { $0.planningFailure != nil }) {
            guard hasOperationalPipelines() else { break }
            let events = rows[start...].compactMap { row in
                row.planningFailure.map { OperationalEvent.deliveryFailed(atIngest: row, error: $0, atMs: nowMs) }
            }
            start = rows.endIndex
            let (more, added) = operationalRows(for: events)
            rows += more
            delta.add(added)
            rounds += 1
        }
        return delta
    }

    /// Whether operational events handed to the store thread are all stored (or given up), so a
    /// drain may end: deliveries they made are then in the store or a lane's hand-off.
    var operationalSettled: Bool {
        guard operationalPending.load(ordering: .acquiring) == 0 else { return false }
        // Read after the count: the store thread marks lanes before it counts an event settled.
        return storedLanes.withLock { $0.isEmpty }
    }
}
