/// Every sink's ``SinkCircuit`` as the dispatch thread keeps them: one per (pipeline, sink),
/// shared by the sink's lanes (a lane retired by a reload and its successor), with the lanes of
/// each, and which circuits have changes to write.
///
/// Status changes are written at once; failure counts alone wait for the runner's periodic
/// refresh, so a flapping endpoint costs at most one state write per second, not one per attempt.
///
/// Used on the runner's dispatch thread only.
final class CircuitBoard {
    private var circuits: [DeliveryRunner.LaneKey: SinkCircuit] = [:]
    private var lanesOf: [DeliveryRunner.LaneKey: [Int]] = [:]
    /// Lanes attached so far (lanes are never renumbered).
    private(set) var attachedCount = 0
    /// Circuits with a change to write at the next flush, and whether it is a status change.
    private var changed: [DeliveryRunner.LaneKey: Bool] = [:]

    /// Gives `lane` (at `index`) its sink's circuit, made from the lane's policy when it is the
    /// sink's first lane; a later lane brings the policy of the definition it runs.
    func attach(_ lane: SinkLane, index: Int) {
        let key = DeliveryRunner.LaneKey(pipeline: lane.pipeline.name, sink: lane.sink.name)
        if let circuit = circuits[key] {
            circuit.policy = lane.sink.pause
            lane.circuit = circuit
        } else {
            circuits[key] = lane.circuit
        }
        lanesOf[key, default: []].append(index)
        attachedCount = max(attachedCount, index + 1)
    }

    /// The circuit of a sink, if a lane runs it.
    func circuit(pipeline: String, sink: String) -> SinkCircuit? {
        circuits[DeliveryRunner.LaneKey(pipeline: pipeline, sink: sink)]
    }

    /// The lanes of a sink.
    func lanes(pipeline: String, sink: String) -> [Int] {
        lanesOf[DeliveryRunner.LaneKey(pipeline: pipeline, sink: sink)] ?? []
    }

    /// Notes that `circuit` has something to write; a status change is written at the next
    /// flush, counts only at the next refresh.
    func noteChanged(_ circuit: SinkCircuit, statusChanged: Bool) {
        let key = DeliveryRunner.LaneKey(pipeline: circuit.state.pipeline, sink: circuit.state.sink)
        changed[key] = (changed[key] ?? false) || statusChanged
    }

    /// The writes due: status changes always, counts too when `refreshing`.
    func takeWrites(nowMs: Int64, refreshing: Bool) -> [StoreWorker.SinkStateWrite] {
        guard !changed.isEmpty else { return [] }
        var writes: [StoreWorker.SinkStateWrite] = []
        for (key, isStatus) in changed where isStatus || refreshing {
            guard let circuit = circuits[key] else {
                changed[key] = nil
                continue
            }
            // A write still with the store keeps the change noted for the next flush.
            guard let (state, announce) = circuit.takeWrite() else {
                if !circuit.writePending { changed[key] = nil }
                continue
            }
            changed[key] = nil
            writes.append(StoreWorker.SinkStateWrite(state: state, expectedVersion: state.version, nowMs: nowMs, announce: announce))
        }
        return writes
    }

    /// Every circuit, for a read of the stored states to update.
    var all: [SinkCircuit] { Array(circuits.values) }
}
