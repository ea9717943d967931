/// Sink health in the admin API: `GET /api/sinks` and `POST /api/sinks/{pipeline}/{sink}/enable`
/// or `/disable`, as `loyali-hooks sinks` does.
extension AdminEndpoint {
    /// Every sink of the running configuration, then any other the store has a state for, each
    /// with its state (healthy when none is stored).
    func sinkStates() throws -> [SinkState] {
        let stored = try context.store.sinkStates()
        var states: [SinkState] = []
        var seen = Set<String>()
        for pipeline in context.configuration.pipelines {
            for sink in pipeline.sinks where seen.insert("\(pipeline.name)/\(sink.name)").inserted {
                states.append(stored.first(pipeline: pipeline.name, sink: sink.name) ?? SinkState(pipeline: pipeline.name, sink: sink.name))
            }
        }
        for state in stored where seen.insert("\(state.pipeline)/\(state.sink)").inserted { states.append(state) }
        return states
    }

    /// Enables or disables a sink of the running configuration; the runners see it at once.
    func setSinkEnabled(pipeline: String, sink: String, enabled: Bool) throws -> HTTPServerResponse {
        let configured = context.configuration.pipelines.contains { $0.name == pipeline && $0.sinks.contains { $0.name == sink } }
        let stored = try context.store.sinkStates().first(pipeline: pipeline, sink: sink)
        guard configured || stored != nil else {
            return .error(404, "not_found", "no sink '\(pipeline)/\(sink)' in the running configuration")
        }
        let (before, after) = try context.store.setSinkEnabled(
            pipeline: pipeline, sink: sink, enabled: enabled, nowMs: context.clock.nowMs(), by: "the admin API")
        // The runners read sink states when told of new work, not only at their next refresh.
        context.currentHooks.resent()
        return .json(200, JSONObject([
            "changed": .bool(before.version != after.version), "previous": .string(before.status.rawValue), "sink": after.json,
        ]))
    }
}
