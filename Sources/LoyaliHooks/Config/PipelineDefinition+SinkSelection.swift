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
}
