import Foundation

/// Swapping pipelines while the runner runs (`serve`'s reload): only the pipelines that changed
/// get new lanes; see ``RunnerLayout``.
extension DeliveryRunner {
    /// Runs `pipelines` from now on. The pipelines named in `changed`, and those added or
    /// removed, are swapped: deliveries created before the returned cut-off stay with the lanes
    /// of the definition that made them (retries included), those created from it on go to the
    /// new definition's lanes. Every other pipeline keeps its lanes as they are: its in-flight
    /// attempts, claimed deliveries and pace are untouched, so its delivery never pauses.
    ///
    /// Pipelines passed as unchanged must be the definitions the runner has (a
    /// ``PipelineFileCache`` hands them back). Safe from any thread; returns at once.
    @discardableResult
    public func reconfigure(pipelines: [PipelineDefinition], changed: Set<String>) -> (cutoffMs: Int64, swapped: Set<String>) {
        let (laneCount, cutoff, swapped, version) = layout.withLock { layout in
            let cutoff = clock.nowMs() + 1
            let swapped = layout.reconfigure(pipelines: pipelines, changed: changed, cutoffMs: cutoff)
            return (layout.lanes.count, cutoff, swapped, layout.version)
        }
        handOff.grow(to: laneCount)
        // Not `newWork`: that makes every lane ask the store again, 10,000 claims for a reload
        // of one file. The dispatch thread gives the lanes that changed (new, retired) a turn
        // when it sees the new version (see `syncLanes`); the others carry on as they were.
        layoutVersion.store(version, ordering: .releasing)
        wakeup.signal()
        // Followed files are looked at again now, with the new pipelines.
        ingestPause.signal()
        return (cutoff, swapped)
    }

    /// The pipelines running now, then the definitions replaced by a reconfiguration whose
    /// lanes are still finishing (each once).
    public var definitionsInUse: [PipelineDefinition] {
        layout.withLock { layout in
            var definitions = layout.pipelines
            var seen = Set<String>()
            for lane in layout.lanes where lane.retired && !lane.finished && seen.insert("\(lane.pipeline.name) \(lane.retiredAt ?? 0)").inserted {
                definitions.append(lane.pipeline)
            }
            return definitions
        }
    }

    /// Lanes of swapped pipelines still delivering what was created before their swap.
    public var retiringLaneCount: Int { layout.withLock { $0.retiringCount } }

    /// Moves each row's creation time to the side of its pipeline's last swap that matches the
    /// definition that planned it (layout version `plannedVersion`).
    func restamp(_ rows: inout [NewDelivery], plannedVersion: Int) {
        layout.withLock { layout in
            guard !layout.changes.isEmpty else { return }
            for index in rows.indices {
                rows[index].createdAtMs = layout.stamp(rows[index].createdAtMs, pipeline: rows[index].pipeline, plannedVersion: plannedVersion)
            }
        }
    }

    /// Brings the dispatch thread's lanes in line with the layout: new lanes appended, windows
    /// and retirements copied, each lane touched given a turn; lanes newly retired join
    /// `retiring`. Dispatch thread only.
    func syncLanes(_ lanes: inout [SinkLane], retiring: inout Set<Int>, seenVersion: inout Int, scheduler: LaneScheduler?) {
        let version = layoutVersion.load(ordering: .acquiring)
        guard version != seenVersion else { return }
        let current = layout.withLock { $0 }
        seenVersion = current.version
        for spec in current.lanes[lanes.count...] {
            let lane = SinkLane(pipeline: spec.pipeline, sink: spec.sink)
            lane.window = spec.window
            lanes.append(lane)
            scheduler?.addLane(maxInFlight: lane.maxInFlight, sharedLimit: lane.sharedLimit)
        }
        for (index, (lane, spec)) in zip(lanes, current.lanes).enumerated() where lane.window != spec.window || lane.retired != spec.retired {
            lane.window = spec.window
            if spec.retired, !lane.retired { retiring.insert(index) }
            lane.retired = spec.retired
            // Its share of the store changed: ask again.
            lane.invalidateDueTime()
            scheduler?.markReady(index)
        }
    }

    /// Ends each retired lane that has settled everything in its window: nothing in flight,
    /// claimed, handed over or due in the store. Its successor takes its window over, and once
    /// every lane of a replaced definition has ended, ``Options/onRetiredPipelineFinished`` is
    /// told (its plugin processes can go). Dispatch thread only.
    func finishSettledLanes(_ lanes: [SinkLane], retiring: inout Set<Int>, scheduler: LaneScheduler) {
        for index in retiring {
            let lane = lanes[index]
            guard lane.isIdle, !handOff.hasQueued(index), lane.nextDueMs == SinkLane.nothingDue else { continue }
            retiring.remove(index)
            lane.finished = true
            let (successor, window, done) = layout.withLock { layout -> (Int?, CreationWindow?, Bool) in
                let retiredAt = layout.lanes[index].retiredAt
                let successor = layout.finish(index)
                return (successor, successor.map { layout.lanes[$0].window }, layout.hasFinished(pipeline: lane.pipeline.name, retiredAt: retiredAt))
            }
            if let successor, let window {
                lanes[successor].window = window
                lanes[successor].invalidateDueTime()
                scheduler.markReady(successor)
            }
            logger.log(.info, "a replaced sink finished the deliveries made under its previous configuration", [
                "pipeline": lane.pipeline.name, "sink": lane.sink.name,
            ])
            if done { options.onRetiredPipelineFinished?(lane.pipeline) }
        }
    }
}
