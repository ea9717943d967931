/// A pipeline's `filter:`: which event types it subscribes to, and what their content must say.
///
/// ```yaml
/// filter:
///   events: [redemption.created, "redemption.*"]   # exact names, prefix.*, or *
///   exclude: [redemption.cancelled]
///   where: data.points_spent >= 500                # see WhereExpression
/// ```
public struct EventFilter: Sendable {
    /// Types accepted; an event must match at least one.
    public let include: [EventPattern]
    /// Types refused even when included.
    public let exclude: [EventPattern]
    /// `filter.where`: the condition an event of an accepted type must also meet; `nil` when the
    /// filter has none.
    public let condition: WhereExpression?

    /// Every catalogued event.
    public static let everything = EventFilter(include: [EventPattern("*")!], exclude: [])

    public init(include: [EventPattern], exclude: [EventPattern], condition: WhereExpression? = nil) {
        self.include = include
        self.exclude = exclude
        self.condition = condition
    }

    /// Whether this pipeline wants events of `eventType`, whatever they say (`where` aside).
    @inline(__always)
    public func accepts(_ eventType: String) -> Bool {
        include.contains { $0.matches(eventType) } && !exclude.contains { $0.matches(eventType) }
    }

    /// Whether this pipeline takes `envelope`: its type is accepted, then `where` holds. This is
    /// asked before any transform step runs, so no step can change what `where` sees.
    @inline(__always)
    public func accepts(_ envelope: EventEnvelope) -> Bool {
        accepts(envelope.eventType) && (condition?.matches(envelope) ?? true)
    }

    /// The catalogue types that pass, for `validate` and the routes table.
    public var acceptedTypes: [String] { EventCatalogue.names.filter(accepts) }
}

extension ConfigReader {
    /// Reads `filter:`; a missing filter means every event.
    func eventFilter(_ node: YAMLNode?) -> EventFilter? {
        guard let node else { return .everything }
        guard let mapping = mapping(node, allowedKeys: PipelineKeys.filter.names, in: "filter") else { return nil }
        let include = mapping["events"].map { eventPatterns($0, what: "filter.events") } ?? [EventPattern("*")!]
        let exclude = mapping["exclude"].map { eventPatterns($0, what: "filter.exclude") } ?? []
        let condition = mapping["where"].flatMap { whereExpression($0) }
        guard let include, let exclude, mapping["where"] == nil || condition != nil else { return nil }
        if mapping["events"] != nil, include.isEmpty {
            error("filter.events is empty, so this pipeline would deliver nothing; use [\"*\"] for every event", at: mapping["events"]!)
        }
        let filter = EventFilter(include: include, exclude: exclude, condition: condition)
        if !include.isEmpty, filter.acceptedTypes.isEmpty {
            warning("filter accepts no event type once 'exclude' is applied", at: mapping["exclude"] ?? node)
        }
        return filter
    }

    /// Compiles `filter.where`, reporting each problem at its own place inside the expression.
    /// Written as is: `${…}` is not expanded, so what is reviewed is what runs.
    private func whereExpression(_ node: YAMLNode) -> WhereExpression? {
        guard let text = literal(node, what: "filter.where") else { return nil }
        switch WhereExpression.compile(text) {
        case .success(let expression):
            return expression
        case .failure(let failure):
            for problem in failure.problems {
                error("filter.where: \(problem.message)", at: location(ofCharacter: problem.offset, in: node))
            }
            return nil
        }
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
