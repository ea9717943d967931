/// The pipelines a ``DeliveryRunner`` runs and the sink lanes it drives for them, which
/// ``DeliveryRunner/reconfigure(pipelines:changed:)`` changes while the runner runs.
///
/// A reload swaps only the pipelines that changed: each of their lanes is *retired* (it keeps
/// the deliveries created before the switch, retries included, and sends them with the
/// definition they were made under) and a new lane, with the new definition, takes those
/// created from the switch on. Lanes of the other pipelines are left alone, with their in-flight
/// attempts, claimed deliveries and connections. A retired lane that has settled everything
/// hands its window to its successor (for resends of its failed deliveries) and is never used
/// again; lanes are never renumbered, so indexes held by other threads stay valid.
struct RunnerLayout {
    /// One lane: a pipeline's sink and the deliveries it claims, by creation time.
    struct Lane {
        var pipeline: PipelineDefinition
        var sink: SinkDefinition
        var window: CreationWindow
        /// Replaced or removed by a reconfiguration: it takes no new deliveries.
        var retired = false
        /// The version of the reconfiguration that retired it.
        var retiredAt: Int?
        /// Retired and settled: it claims nothing any more.
        var finished = false
    }

    /// The last change of one pipeline: the version that made it, and the creation time from
    /// which deliveries belong to the new definition.
    struct Change {
        var version: Int
        var cutoffMs: Int64
    }

    /// +1 per reconfiguration.
    private(set) var version = 0
    /// The pipelines running now, in load order.
    private(set) var pipelines: [PipelineDefinition]
    /// Every lane made so far, by index.
    private(set) var lanes: [Lane] = []
    /// The live (not retired) lane of each pipeline's sink.
    private(set) var laneIndex: [DeliveryRunner.LaneKey: Int] = [:]
    /// Pipelines changed by a reconfiguration, by name.
    private(set) var changes: [String: Change] = [:]

    init(pipelines: [PipelineDefinition]) {
        self.pipelines = pipelines
        for pipeline in pipelines { addLanes(of: pipeline, window: .all) }
    }

    private mutating func addLanes(of pipeline: PipelineDefinition, window: CreationWindow) {
        for sink in pipeline.sinks {
            laneIndex[DeliveryRunner.LaneKey(pipeline: pipeline.name, sink: sink.name)] = lanes.count
            lanes.append(Lane(pipeline: pipeline, sink: sink, window: window))
        }
    }

    /// Runs `pipelines` from now on: the lanes of those named in `changed`, and of pipelines
    /// added or removed, are retired at `cutoffMs` and the new definitions get new lanes; every
    /// other pipeline keeps its lanes. Returns the names swapped.
    mutating func reconfigure(pipelines newPipelines: [PipelineDefinition], changed: Set<String>, cutoffMs: Int64) -> Set<String> {
        let oldNames = Set(pipelines.map(\.name))
        let newNames = Set(newPipelines.map(\.name))
        let swapped = changed.intersection(oldNames.union(newNames)).union(oldNames.symmetricDifference(newNames))
        version += 1
        for (key, index) in laneIndex where swapped.contains(key.pipeline) {
            lanes[index].retired = true
            lanes[index].retiredAt = version
            lanes[index].window.beforeMs = min(cutoffMs, lanes[index].window.beforeMs ?? .max)
            laneIndex[key] = nil
        }
        for pipeline in newPipelines where swapped.contains(pipeline.name) {
            addLanes(of: pipeline, window: CreationWindow(fromMs: cutoffMs))
        }
        for name in swapped { changes[name] = Change(version: version, cutoffMs: cutoffMs) }
        pipelines = newPipelines
        return swapped
    }

    /// Marks retired lane `index` settled. Its successor (the live lane of the same sink, if the
    /// pipeline still has it) takes over its window, so a resend of one of its deliveries is
    /// sent. Returns the successor's index.
    mutating func finish(_ index: Int) -> Int? {
        lanes[index].finished = true
        let key = DeliveryRunner.LaneKey(pipeline: lanes[index].pipeline.name, sink: lanes[index].sink.name)
        guard let successor = laneIndex[key] else { return nil }
        // Older retired lanes of the same sink may still be settling: the successor's window
        // reaches back only as far as the oldest of them that has not finished.
        let unfinished = lanes.indices.filter {
            $0 != successor && !lanes[$0].finished && lanes[$0].pipeline.name == key.pipeline && lanes[$0].sink.name == key.sink
        }
        lanes[successor].window.fromMs = unfinished.compactMap { lanes[$0].window.beforeMs }.max()
        return successor
    }

    /// Whether every lane of `pipeline` retired by reconfiguration `version` has finished: the
    /// definition they ran is done with, and its plugin processes can go.
    func hasFinished(pipeline: String, retiredAt version: Int?) -> Bool {
        !lanes.contains { $0.retiredAt == version && !$0.finished && $0.pipeline.name == pipeline }
    }

    /// The creation time for a delivery of `pipeline` planned under layout `plannedVersion`, from
    /// `stampMs`: before the pipeline's last change when planned with the old definition, from it
    /// when planned with the new one, so the lane of the definition that planned it sends it.
    func stamp(_ stampMs: Int64, pipeline: String, plannedVersion: Int) -> Int64 {
        guard let change = changes[pipeline] else { return stampMs }
        return plannedVersion < change.version ? min(stampMs, change.cutoffMs - 1) : max(stampMs, change.cutoffMs)
    }

    /// The live lane for a delivery of `key` created at `createdAtMs`, when that lane's window
    /// holds it; `nil` sends the delivery to the store, where the retired lane that owns it
    /// claims it.
    func lane(for key: DeliveryRunner.LaneKey, createdAtMs: Int64) -> Int? {
        guard let index = laneIndex[key], lanes[index].window.contains(createdAtMs) else { return nil }
        return index
    }

    /// Lanes retired and not finished yet.
    var retiringCount: Int { lanes.count { $0.retired && !$0.finished } }
}
