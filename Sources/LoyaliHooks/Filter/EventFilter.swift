/// A pipeline's `filter:`: which event types it subscribes to.
///
/// ```yaml
/// filter:
///   events: [redemption.created, "redemption.*"]   # exact names, prefix.*, or *
///   exclude: [redemption.cancelled]
/// ```
public struct EventFilter: Sendable {
    /// Types accepted; an event must match at least one.
    public let include: [EventPattern]
    /// Types refused even when included.
    public let exclude: [EventPattern]

    /// Every catalogued event.
    public static let everything = EventFilter(include: [EventPattern("*")!], exclude: [])

    public init(include: [EventPattern], exclude: [EventPattern]) {
        self.include = include
        self.exclude = exclude
    }

    /// Whether this pipeline wants events of `eventType`.
    @inline(__always)
    public func accepts(_ eventType: String) -> Bool {
        include.contains { $0.matches(eventType) } && !exclude.contains { $0.matches(eventType) }
    }

    /// The catalogue types that pass, for `validate` and the routes table.
    public var acceptedTypes: [String] { EventCatalogue.names.filter(accepts) }
}

extension ConfigReader {
    /// Reads `filter:`; a missing filter means every event.
    func eventFilter(_ node: YAMLNode?) -> EventFilter? {
        guard let node else { return .everything }
        guard let mapping = mapping(node, allowedKeys: ["events", "exclude"], in: "filter") else { return nil }
        let include = mapping["events"].map { eventPatterns($0, what: "filter.events") } ?? [EventPattern("*")!]
        let exclude = mapping["exclude"].map { eventPatterns($0, what: "filter.exclude") } ?? []
        guard let include, let exclude else { return nil }
        if mapping["events"] != nil, include.isEmpty {
            error("filter.events is empty, so this pipeline would deliver nothing; use [\"*\"] for every event", at: mapping["events"]!)
        }
        let filter = EventFilter(include: include, exclude: exclude)
        if !include.isEmpty, filter.acceptedTypes.isEmpty {
            warning("filter accepts no event type once 'exclude' is applied", at: mapping["exclude"] ?? node)
        }
        return filter
    }

    /// Reads a list of event patterns, checking each against the catalogue.
    private func eventPatterns(_ node: YAMLNode, what: String) -> [EventPattern]? {
        guard let items = stringList(node, what: what, interpolate: false) else { return nil }
        var patterns: [EventPattern] = []
        var ok = true
        for (text, item) in items {
            guard let pattern = EventPattern(text) else {
                ok = false
                error("\(what): '\(text)' is not an event pattern; use an exact type, 'prefix.*' or '*'", at: item)
                continue
            }
            guard pattern.matchesAnyCataloguedType else {
                ok = false
                let hint = Suggestion.didYouMean(text, in: EventCatalogue.names + EventCatalogue.groups.map { "\($0).*" })
                error("\(what): unknown event type '\(text)'\(hint)", at: item)
                continue
            }
            patterns.append(pattern)
        }
        return ok ? patterns : nil
    }
}
