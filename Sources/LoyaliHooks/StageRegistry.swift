/// Maps the names used in pipeline files to the stages that implement them.
///
/// Adding a built-in stage is one new file with a `static let factory` and one line below.
public struct StageRegistry: Sendable {
    /// `source: { type: … }` kinds.
    public var sources: [String: SourceFactory] = [:]
    /// `transform:` step names.
    public var transforms: [String: TransformStepFactory] = [:]
    /// `sinks: { name: { type: … } }` kinds.
    public var sinks: [String: SinkFactory] = [:]

    public init() {}

    /// Adds (or replaces) a source kind.
    public mutating func register(_ factory: SourceFactory) { sources[factory.kind] = factory }
    /// Adds (or replaces) a transform step.
    public mutating func register(_ factory: TransformStepFactory) { transforms[factory.name] = factory }
    /// Adds (or replaces) a sink kind.
    public mutating func register(_ factory: SinkFactory) { sinks[factory.kind] = factory }

    /// Everything that ships with loyali-hooks.
    public static let builtIn: StageRegistry = {
        var registry = StageRegistry()
        registry.register(FileSource.factory)
        registry.register(StdinSource.factory)
        registry.register(SampleSource.factory)
        registry.register(HTTPSource.factory)
        registry.register(OperationalSource.factory)
        registry.register(SetStep.factory)
        registry.register(RemoveStep.factory)
        registry.register(RenameStep.factory)
        registry.register(RedactStep.factory)
        registry.register(PickStep.factory)
        registry.register(PluginTransformStep.factory)
        registry.register(HTTPSink.factory)
        registry.register(FileSink.factory)
        registry.register(StdoutSink.factory)
        registry.register(PluginSink.factory)
        return registry
    }()
}
