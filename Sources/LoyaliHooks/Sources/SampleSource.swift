/// `source: { type: sample, events: ["points.*"] }`: the catalogue's realistic sample of each
/// matching event type, for trying a pipeline without any data.
public struct SampleSource: EventSource {
    public let kind = "sample"
    /// Which catalogue types to emit, in catalogue order.
    public let eventTypes: [String]
    /// The ingest time stamped on the samples.
    public var identity: String { "sample:" + eventTypes.joined(separator: ",") }

    /// By default the Loyali events; operational ones only when named (`events: [sink.*]`).
    public init(eventTypes: [String] = EventCatalogue.loyali.map(\.name)) { self.eventTypes = eventTypes }

    public func open() throws(SourceError) -> InputStream {
        var bytes: [UInt8] = []
        for name in eventTypes {
            guard let type = EventCatalogue.type(named: name) else { continue }
            bytes += Self.sampleLine(for: type).utf8
            bytes.append(0x0A)
        }
        return .bytes(bytes, name: "sample")
    }

    /// One input line for `type`, with a stable id so repeated runs dedupe.
    public static func sampleLine(for type: EventType) -> String {
        var line: [UInt8] = Array(#"{"id":"evt_sample_"#.utf8)
        line += type.name.replacing(".", with: "_").utf8
        line += #"","event_type":"#.utf8
        JSONValue.appendJSONString(type.name, to: &line)
        line += #","data":"#.utf8
        line += type.samplePayload.utf8
        line.append(UInt8(ascii: "}"))
        return String(decoding: line, as: UTF8.self)
    }

    /// Registry entry.
    public static let factory = SourceFactory(
        kind: "sample", summary: "the catalogue's sample of each event type",
        options: [ConfigKey("events", .eventPatterns, "Which samples to emit (default: every event type).")]
    ) { mapping, reader in
        guard let node = mapping["events"] else { return SampleSource() }
        guard let items = reader.stringList(node, what: "source.events", interpolate: false) else { return nil }
        var patterns: [EventPattern] = []
        for (text, item) in items {
            guard let pattern = EventPattern(text), pattern.matchesAnyCataloguedType else {
                reader.error("source.events: unknown event type '\(text)'\(Suggestion.didYouMean(text, in: EventCatalogue.names))", at: item)
                continue
            }
            patterns.append(pattern)
        }
        guard patterns.count == items.count else { return nil }
        return SampleSource(eventTypes: EventCatalogue.names.filter { name in patterns.contains { $0.matches(name) } })
    }
}
