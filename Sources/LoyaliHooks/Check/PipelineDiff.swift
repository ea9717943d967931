/// What changes between two pipeline trees, pipeline by pipeline and sink by sink, and which of
/// the changes route events differently.
///
/// Routing changes: a pipeline or sink added or removed, events gained or lost (wildcards
/// expanded against the catalogue), the source, a `where` expression, a sink's type or its
/// URL/path/plugin. Other changes (steps, retry policy, secrets, scheme, sink options) change what
/// is sent or when, not where, and are reported beside them.
public enum PipelineDiff {
    /// One change.
    public struct Change: Sendable, Equatable {
        /// What changed, as its `--json` name.
        public enum Kind: String, Sendable {
            case pipelineAdded = "pipeline_added", pipelineRemoved = "pipeline_removed"
            case sourceChanged = "source_changed"
            case eventsGained = "events_gained", eventsLost = "events_lost"
            case whereChanged = "where_changed"
            case stepsChanged = "steps_changed"
            case schemeChanged = "scheme_changed"
            case secretsAdded = "secrets_added", secretsRemoved = "secrets_removed", secretsRotated = "secrets_rotated"
            case sinkAdded = "sink_added", sinkRemoved = "sink_removed"
            case sinkTypeChanged = "sink_type_changed"
            case targetChanged = "target_changed"
            case retryChanged = "retry_changed"
            case optionChanged = "option_changed"

            /// Whether this kind of change sends some event somewhere it did not go, or stops it.
            public var isRouting: Bool {
                switch self {
                case .pipelineAdded, .pipelineRemoved, .sourceChanged, .eventsGained, .eventsLost, .whereChanged, .sinkAdded,
                    .sinkRemoved, .sinkTypeChanged, .targetChanged:
                    true
                default: false
                }
            }
        }

        public var kind: Kind
        public var pipeline: String
        /// The sink, for sink changes.
        public var sink: String?
        /// The option that changed, for ``Kind/optionChanged``.
        public var key: String?
        /// The old and new value, as text (absent for additions and removals of a whole thing).
        public var old: String?
        public var new: String?
        /// Events gained or lost (or routed by an added pipeline or sink), secret variable names,
        /// or step lines (`- …` old, `+ …` new).
        public var items: [String] = []
    }

    /// Every change from `old` to `new`, pipelines in `new`'s order then the removed ones.
    public static func changes(old: [PipelineSnapshot], new: [PipelineSnapshot]) -> [Change] {
        var changes: [Change] = []
        for pipeline in new {
            guard let before = old.first(where: { $0.name == pipeline.name }) else {
                changes.append(Change(
                    kind: .pipelineAdded, pipeline: pipeline.name, new: pipeline.sinks.map { "\($0.name) (\($0.kind) \($0.target))" }.joined(separator: ", "),
                    items: pipeline.events))
                continue
            }
            changes += compare(before, pipeline)
        }
        for pipeline in old where !new.contains(where: { $0.name == pipeline.name }) {
            changes.append(Change(
                kind: .pipelineRemoved, pipeline: pipeline.name, old: pipeline.sinks.map { "\($0.name) (\($0.kind) \($0.target))" }.joined(separator: ", "),
                items: pipeline.events))
        }
        return changes
    }

    private static func compare(_ old: PipelineSnapshot, _ new: PipelineSnapshot) -> [Change] {
        let name = new.name
        var changes: [Change] = []
        if old.source != new.source { changes.append(Change(kind: .sourceChanged, pipeline: name, old: old.source, new: new.source)) }
        let gained = new.events.filter { !old.events.contains($0) }
        let lost = old.events.filter { !new.events.contains($0) }
        if !gained.isEmpty { changes.append(Change(kind: .eventsGained, pipeline: name, items: gained)) }
        if !lost.isEmpty { changes.append(Change(kind: .eventsLost, pipeline: name, items: lost)) }
        if old.whereCanonical != new.whereCanonical {
            changes.append(Change(kind: .whereChanged, pipeline: name, old: old.whereExpression, new: new.whereExpression))
        }
        if old.steps != new.steps {
            let diff = JSONComparison.lineDiff(expected: old.steps.joined(separator: "\n"), actual: new.steps.joined(separator: "\n"), context: 0)
            let lines = old.steps.isEmpty ? new.steps.map { "+ " + $0 } : new.steps.isEmpty ? old.steps.map { "- " + $0 } :
                diff.split(separator: "\n").map(String.init).filter { $0.hasPrefix("- ") || $0.hasPrefix("+ ") }
            changes.append(Change(kind: .stepsChanged, pipeline: name, items: lines))
        }
        if old.scheme != new.scheme {
            changes.append(Change(kind: .schemeChanged, pipeline: name, old: old.scheme ?? "none", new: new.scheme ?? "none"))
        }
        let added = new.secrets.filter { !old.secrets.contains($0) }
        let removed = old.secrets.filter { !new.secrets.contains($0) }
        if !added.isEmpty, !removed.isEmpty {
            changes.append(Change(kind: .secretsRotated, pipeline: name, old: removed.joined(separator: ", "), new: added.joined(separator: ", "), items: removed + added))
        } else if !added.isEmpty {
            changes.append(Change(kind: .secretsAdded, pipeline: name, items: added))
        } else if !removed.isEmpty {
            changes.append(Change(kind: .secretsRemoved, pipeline: name, items: removed))
        }
        for sink in new.sinks {
            guard let before = old.sinks.first(where: { $0.name == sink.name }) else {
                changes.append(Change(kind: .sinkAdded, pipeline: name, sink: sink.name, new: "\(sink.kind) \(sink.target)", items: new.events))
                continue
            }
            changes += compare(before, sink, pipeline: name)
        }
        for sink in old.sinks where !new.sinks.contains(where: { $0.name == sink.name }) {
            changes.append(Change(kind: .sinkRemoved, pipeline: name, sink: sink.name, old: "\(sink.kind) \(sink.target)", items: old.events))
        }
        return changes
    }

    private static func compare(_ old: PipelineSnapshot.Sink, _ new: PipelineSnapshot.Sink, pipeline: String) -> [Change] {
        var changes: [Change] = []
        if old.kind != new.kind {
            changes.append(Change(kind: .sinkTypeChanged, pipeline: pipeline, sink: new.name, old: old.kind, new: new.kind))
        }
        if old.target != new.target {
            changes.append(Change(
                kind: .targetChanged, pipeline: pipeline, sink: new.name, key: PipelineSnapshot.targetKey(new.kind), old: old.target, new: new.target))
        }
        if old.retry != new.retry {
            // Only the parts that changed: `jitter 10%` → `jitter 20%`.
            let parts = zip(parts(old.retry), parts(new.retry)).filter { $0 != $1 }
            changes.append(Change(
                kind: .retryChanged, pipeline: pipeline, sink: new.name, old: parts.map(\.0).joined(separator: ", "),
                new: parts.map(\.1).joined(separator: ", ")))
        }
        for key in (old.options.map(\.key) + new.options.map(\.key)).uniqued() {
            let before = old.options.first { $0.key == key }?.value
            let after = new.options.first { $0.key == key }?.value
            if before != after {
                changes.append(Change(kind: .optionChanged, pipeline: pipeline, sink: new.name, key: key, old: before, new: after))
            }
        }
        return changes
    }

    /// `schedule [0s, 1m]`, `jitter 10%`, `max_retry_after 1h`.
    static func parts(_ policy: RetryPolicy) -> [String] {
        let jitter = policy.jitter * 100
        return [
            "schedule [" + policy.schedule.map(\.configDescription).joined(separator: ", ") + "]",
            "jitter " + (jitter == jitter.rounded() ? String(Int(jitter)) : String(jitter)) + "%",
            "max_retry_after " + policy.maxRetryAfter.configDescription,
        ]
    }
}

extension Array where Element: Hashable {
    /// The elements in order, each only the first time it appears.
    public func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
