import Foundation

/// Sink health on the dispatch thread: what a lane whose circuit opens or closes does, and how
/// the circuits' states go to and come from the store (see ``SinkCircuit``, ``CircuitBoard``).
extension DeliveryRunner {
    /// What the dispatch loop needs to act on a circuit's change.
    struct CircuitContext {
        let lanes: [SinkLane]
        let board: CircuitBoard
        let storeWorker: StoreWorker
        let scheduler: LaneScheduler
    }

    /// Acts on a status change of `circuit` on every lane of its sink: a sink paused or
    /// disabled gives its claimed and handed-over deliveries back to the store (due as they
    /// were) and takes no more fresh ones; one healthy again asks the store for its backlog.
    func circuitChanged(_ circuit: SinkCircuit, _ context: CircuitContext) {
        let state = circuit.state
        for index in context.board.lanes(pipeline: state.pipeline, sink: state.sink) {
            let lane = context.lanes[index]
            if circuit.isHolding {
                handOff.close(index)
                var back = lane.takeUnstarted()
                back += handOff.take(index, limit: .max)
                if !back.isEmpty {
                    context.scheduler.released(bytes: back.reduce(0) { $0 + $1.footprint })
                    context.storeWorker.release(back.map(\.id))
                }
            }
            lane.invalidateDueTime()
            context.scheduler.markReady(index)
        }
    }

    /// Takes the store thread's answers about sink states: written changes are announced (the
    /// node whose write won is the one that tells its observers), lost ones and states read
    /// from the store are adopted.
    func takeSinkStateResults(_ context: CircuitContext, nowMs: Int64) {
        let results = context.storeWorker.takeSinkStateResults()
        for (write, written, current) in results.writes {
            guard let circuit = context.board.circuit(pipeline: current.pipeline, sink: current.sink) else { continue }
            let wasHolding = circuit.isHolding
            if circuit.writeAnswered(written: written, current: current, announce: write.announce) != nil || wasHolding != circuit.isHolding {
                circuitChanged(circuit, context)
            }
            if written, let change = write.announce { announce(change) }
            if circuit.needsWrite { context.board.noteChanged(circuit, statusChanged: circuit.hasUnannounced) }
        }
        for stored in results.read ?? [] {
            guard let circuit = context.board.circuit(pipeline: stored.pipeline, sink: stored.sink) else { continue }
            let wasHolding = circuit.isHolding
            if circuit.adopt(stored) != nil || wasHolding != circuit.isHolding { circuitChanged(circuit, context) }
            if circuit.needsWrite { context.board.noteChanged(circuit, statusChanged: circuit.hasUnannounced) }
        }
    }

    /// Logs a transition and tells the observer.
    func announce(_ change: SinkStateChange) {
        let state = change.state
        let message: String
        let level: Logger.Level
        switch change.kind {
        case .paused:
            (level, message) = (.warn, "sink paused: its deliveries wait, and a probe goes out at growing intervals")
        case .resumed:
            (level, message) = (.info, "sink resumed: its waiting deliveries go out again")
        case .disabled:
            (level, message) = (.error, "sink disabled: nothing is sent to it until it is enabled (loyali-hooks sinks enable)")
        case .enabled:
            (level, message) = (.info, "sink enabled")
        }
        logger.log(level, message, [
            "pipeline": state.pipeline, "sink": state.sink, "state": state.summary, "reason": state.reason,
            "consecutive_failures": String(state.consecutiveFailures),
        ])
        // Its `sink.*` event was stored with the state (see StoreWorker.writeSinkState).
        options.observer?.sinkStateChanged(change)
    }

    /// Judges a finished attempt for its sink's circuit, and returns the outcome to record: a
    /// failed probe never uses up its delivery, which waits with the others, due when the
    /// circuit closes (its schedule frozen like theirs).
    func judgeForCircuit(
        _ completion: Completion, lane: SinkLane, outcome: RetryDecision.Outcome, nowMs: Int64, board: CircuitBoard
    ) -> RetryDecision.Outcome {
        let circuit = lane.circuit
        if case .failure(let failure) = completion.result, failure.errorClass == "transform" {
            // The pipeline's own steps failed on the event: nothing was sent, and the endpoint
            // is not to blame. A probe that ended so leaves the next due delivery to probe.
            circuit.probeEnded(completion.delivery.id)
            return outcome
        }
        let wasProbe = circuit.isProbe(completion.delivery.id)
        // The SSRF guard refusing the address says nothing about the endpoint's health: such a
        // delivery fails at once, and pausing the sink would make the next ones wait instead.
        // A probe still counts, so that it is always answered.
        if !wasProbe, case .failure(let failure) = completion.result, failure.errorClass == HTTPTransportError.ErrorClass.blockedAddress.rawValue {
            return outcome
        }
        let previous = circuit.state.status
        let change = circuit.judged(deliveryID: completion.delivery.id, success: completion.result.isSuccess, nowMs: nowMs)
        // Only a change is noted: a success on a healthy sink costs no bookkeeping.
        if circuit.needsWrite {
            board.noteChanged(circuit, statusChanged: change != nil || (wasProbe && circuit.state.status == previous && previous == .paused))
        }
        guard wasProbe, circuit.isHolding, !completion.result.isSuccess, completion.result.isRetryable,
            let frozen = circuit.state.frozenSinceMs
        else { return outcome }
        return .retry(atMs: frozen)
    }
}

extension AttemptResult {
    /// Whether a failure may succeed on another attempt (not 410 Gone, not a failure the sink
    /// called final).
    var isRetryable: Bool {
        switch self {
        case .httpStatus(410, _, _): false
        case .failure(let failure): failure.retryable
        default: true
        }
    }
}
