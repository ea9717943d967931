/// `source: { type: operational }`: the events loyali-hooks emits about its own work
/// (`delivery.failed`, `delivery.recovered`, `sink.paused`, `sink.resumed`, `sink.disabled`,
/// `sink.enabled`), routed like any other event: filter, steps, signing, retries and sinks.
///
/// The durable runner (`run`, `serve`) feeds these pipelines itself, storing each event through
/// the same outbox ingest as any source, so every subscription gets it once and at least once.
/// An event never goes to the pipeline whose delivery or sink it is about, and `validate` refuses
/// operational pipelines that would feed each other's failures in a circle
/// (``OperationalRouting``). A dry run or `test` has no runner behind it, so there the source
/// reads the catalogue's operational samples.
public struct OperationalSource: EventSource {
    public let kind = Self.typeName
    public var identity: String { Self.typeName }
    /// Where `type: operational` is written, for `validate`'s loop report.
    public let location: SourceLocation?

    /// The `type` value.
    public static let typeName = "operational"

    /// A source declared at `location`.
    public init(location: SourceLocation? = nil) { self.location = location }

    /// The operational samples, for dry runs: a real run feeds this source itself.
    public func open() throws(SourceError) -> InputStream {
        try SampleSource(eventTypes: EventCatalogue.operational.map(\.name)).open()
    }

    /// Registry entry.
    public static let factory = SourceFactory(
        kind: typeName, summary: "the runner's own events: failed and recovered deliveries, paused, resumed, disabled and enabled sinks",
        options: []
    ) { mapping, _ in
        OperationalSource(location: mapping["type"]?.location)
    }
}
