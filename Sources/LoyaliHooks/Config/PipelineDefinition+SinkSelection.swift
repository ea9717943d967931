extension PipelineDefinition {
    /// The sink types `test` sends a sample to when no sink is named: the receivers being tested
    /// (HTTP endpoints and sink plugins). File and stdout sinks are only used when named, so a test
    /// never appends to an archive or a log.
    public static let testedSinkKinds: Set<String> = ["http", "plugin"]

    /// The same pipeline with only the sinks named in `names`, in file order. Names that are not
    /// sinks of this pipeline are ignored; check them first. Delivery ids do not change, since they
    /// hash the pipeline and sink names.
    public func keepingSinks(_ names: Set<String>) -> PipelineDefinition {
        PipelineDefinition(
            name: name, description: description, file: file, source: source, filter: filter, steps: steps, signing: signing,
            sinks: sinks.filter { names.contains($0.name) })
    }

    /// The pipeline a test sends to: with the sinks named in `names`, or, when none is named, with
    /// its ``testedSinkKinds`` sinks. `loyali-hooks test --sink` and the admin API's test-send both
    /// choose this way, so neither writes to a file or stdout sink unless asked to.
    public func sinksForTest(named names: [String]) throws(SampleSend.Refusal) -> PipelineDefinition {
        let all = sinks.map(\.name)
        for sinkName in names where !all.contains(sinkName) {
            throw SampleSend.Refusal(
                message: "pipeline '\(name)' has no sink '\(sinkName)'\(Suggestion.didYouMean(sinkName, in: all)); its sinks: \(sinkList)")
        }
        if !names.isEmpty { return keepingSinks(Set(names)) }
        let tested = sinks.filter { Self.testedSinkKinds.contains($0.sink.kind) }.map(\.name)
        guard !tested.isEmpty else {
            throw SampleSend.Refusal(
                message: "pipeline '\(name)' has no http or plugin sink to test; file and stdout sinks are used only when named "
                    + "(its sinks: \(sinkList))")
        }
        return keepingSinks(Set(tested))
    }

    /// `name (kind), …`, in file order.
    public var sinkList: String {
        sinks.map { "\($0.name) (\($0.sink.kind))" }.joined(separator: ", ")
    }
}
