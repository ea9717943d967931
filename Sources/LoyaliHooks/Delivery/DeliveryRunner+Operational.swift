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

    /// Queues the `sink.*` event of `change` for the store thread, when an operational pipeline
    /// runs. Its id derives from the sink and the time of the change, so two nodes announcing the
    /// same stored change make one event.
    func queueOperational(_ change: SinkStateChange) {
        guard hasOperationalPipelines() else { return }
        let state = change.state
        let event = OperationalEvent.sinkState(
            pipeline: state.pipeline, sink: state.sink, transition: change.kind.rawValue, atMs: state.changedAtMs ?? clock.nowMs(),
            probeAtMs: change.kind == .paused ? state.nextProbeMs : nil,
            failingSinceMs: change.kind == .paused || change.kind == .disabled ? state.failingSinceMs : nil,
            consecutiveFailures: change.kind == .paused || change.kind == .disabled ? state.consecutiveFailures : nil,
            reason: state.reason)
        operationalPending.add(1, ordering: .releasing)
        operationalQueue.withLock { $0.append(event) }
        wakeup.signal()
    }

    /// Stores what ``queueOperational(_:)`` queued after the store thread ended (changes
    /// announced at the very end of a run), on this thread.
    func storeQueuedOperationalNow() {
        let queued = operationalQueue.withLock { queue -> [EventEnvelope] in
            defer { queue.removeAll() }
            return queue
        }
        guard !queued.isEmpty else { return }
        defer { operationalPending.subtract(queued.count, ordering: .releasing) }
        do {
            try storeOperational(queued)
        } catch {
            logger.log(.error, "storing operational events failed", ["events": String(queued.count), "error": "\(error)"])
            noteFailure("\(Plural.count(queued.count, "operational event")) could not be stored: \(error)")
        }
    }

    /// Plans `events` for every operational pipeline but the one each is about, and stores the
    /// deliveries in one transaction. Blocking; the store thread calls it.
    func storeOperational(_ events: [EventEnvelope]) throws {
        let (pipelines, version) = layout.withLock { ($0.pipelines.filter(OperationalRouting.isOperational), $0.version) }
        guard !pipelines.isEmpty, !events.isEmpty else { return }
        var rows: [NewDelivery] = []
        var delta = Counters()
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
        guard !rows.isEmpty else { return }
        restamp(&rows, plannedVersion: version)
        delta.enqueued = try storeAndHandOff(rows, checkpoint: nil, nowMs: clock.nowMs())
        counters.withLock { $0.add(delta) }
        wakeup.signal()
    }

    /// Whether operational events handed to the store thread are all stored (or given up), so a
    /// drain may end: deliveries they made are then in the store or a lane's hand-off.
    var operationalSettled: Bool {
        guard operationalPending.load(ordering: .acquiring) == 0 else { return false }
        // Read after the count: the store thread marks lanes before it counts an event settled.
        return storedLanes.withLock { $0.isEmpty }
    }
}
