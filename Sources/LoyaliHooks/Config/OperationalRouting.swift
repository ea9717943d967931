/// Where operational events go, and the loops `validate` refuses.
///
/// Every pipeline emits operational events about its own deliveries and sinks. They go to every
/// pipeline whose source is `type: operational` except the one they are about, so a failing
/// alerts sink never feeds its own pipeline. Two or more operational pipelines can still feed
/// each other in a circle: a failed delivery of `a` is an event for `b`, whose failed delivery of
/// it is an event for `a`, and so on for as long as both endpoints are down. ``loops(in:)``
/// finds such circles so loading refuses them.
///
/// Pipeline `x` feeds operational pipeline `y` when `y` subscribes to an operational type and its
/// `filter.where` can let an event with `data.pipeline == "x"` through. The `where` is read only
/// for conditions on `data.pipeline` (`==`, `!=`, `in`, `not in`, with `and`, `or`, `not`); any
/// other condition may be true, so it is assumed to be.
public enum OperationalRouting {
    /// Whether `pipeline` reads the runner's operational events.
    public static func isOperational(_ pipeline: PipelineDefinition) -> Bool {
        pipeline.source.kind == OperationalSource.typeName
    }

    /// Whether an operational event about `emitter`'s deliveries or sinks may reach `receiver`.
    static func feeds(_ emitter: String, _ receiver: PipelineDefinition) -> Bool {
        guard isOperational(receiver), receiver.name != emitter else { return false }
        guard EventCatalogue.operational.contains(where: { receiver.filter.accepts($0.name) }) else { return false }
        guard let condition = receiver.filter.condition else { return true }
        return PipelineSet(condition.root).contains(emitter)
    }

    /// One error per circle of operational pipelines feeding each other, at the `type:
    /// operational` of the circle's first pipeline in load order.
    public static func loops(in pipelines: [PipelineDefinition]) -> [Diagnostic] {
        let operational = pipelines.filter(isOperational)
        guard operational.count > 1 else { return [] }
        let edges = operational.map { emitter in
            operational.indices.filter { feeds(emitter.name, operational[$0]) }
        }
        // Each circle is reported once, from its first member in load order: a walk from `start`
        // only visits pipelines after it.
        var diagnostics: [Diagnostic] = []
        var reported = Set<Int>()
        for start in operational.indices where !reported.contains(start) {
            guard let path = shortestCircle(from: start, edges: edges, within: start...) else { continue }
            reported.formUnion(path)
            let names = (path + [start]).map { operational[$0].name }
            let first = operational[start]
            // A circle has two pipelines at least: none feeds itself.
            let next = operational[path[1]]
            let location = (first.source as? OperationalSource)?.location ?? SourceLocation(path: first.file, line: 1, column: 1)
            diagnostics.append(Diagnostic(
                .error, at: location,
                "operational events would loop: \(names.joined(separator: " → ")) (a failed delivery of each is an event for the next, for as long as their endpoints fail); break the circle with a filter.where in one of them, e.g. where: data.pipeline != \"\(first.name)\" in pipeline '\(next.name)'"))
        }
        return diagnostics
    }

    /// The pipelines of the shortest circle through `start` (starting with it), using only
    /// pipelines in `allowed`; `nil` when there is none.
    private static func shortestCircle(from start: Int, edges: [[Int]], within allowed: PartialRangeFrom<Int>) -> [Int]? {
        var previous: [Int: Int] = [:]
        var queue = [start]
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for next in edges[node] where allowed.contains(next) {
                if next == start {
                    var path = [node]
                    while let back = previous[path[0]] { path.insert(back, at: 0) }
                    return path
                }
                if previous[next] == nil, next != start {
                    previous[next] = node
                    queue.append(next)
                }
            }
        }
        return nil
    }
}

/// The values of `data.pipeline` a `where` condition can let through, read conservatively.
private enum PipelineSet {
    /// Any pipeline may pass (the condition does not limit `data.pipeline`, as far as read).
    case any
    /// Only these.
    case only(Set<String>)
    /// All but these.
    case except(Set<String>)

    init(_ node: WhereNode) {
        switch node {
        case .constant(let value):
            self = value ? .any : .only([])
        case .comparePath(let path, let comparison, .string(let name)) where Self.isPipeline(path):
            switch comparison {
            case .equal: self = .only([name])
            case .notEqual: self = .except([name])
            default: self = .any
            }
        case .member(.path(let path), let literals) where Self.isPipeline(path):
            self = .only(Set(literals.compactMap { if case .string(let name) = $0 { name } else { nil } }))
        case .not(let inner):
            switch PipelineSet(inner) {
            case .any: self = .any
            case .only(let names): self = .except(names)
            case .except(let names): self = .only(names)
            }
        case .and(let parts):
            self = parts.map(PipelineSet.init).reduce(.any) { $0.intersection($1) }
        case .or(let parts):
            self = parts.map(PipelineSet.init).reduce(.only([])) { $0.union($1) }
        default:
            self = .any
        }
    }

    func contains(_ name: String) -> Bool {
        switch self {
        case .any: true
        case .only(let names): names.contains(name)
        case .except(let names): !names.contains(name)
        }
    }

    func intersection(_ other: PipelineSet) -> PipelineSet {
        switch (self, other) {
        case (.any, let x), (let x, .any): x
        case (.only(let a), .only(let b)): .only(a.intersection(b))
        case (.only(let a), .except(let b)), (.except(let b), .only(let a)): .only(a.subtracting(b))
        case (.except(let a), .except(let b)): .except(a.union(b))
        }
    }

    func union(_ other: PipelineSet) -> PipelineSet {
        switch (self, other) {
        case (.any, _), (_, .any): .any
        case (.only(let a), .only(let b)): .only(a.union(b))
        case (.only(let a), .except(let b)), (.except(let b), .only(let a)): .except(b.subtracting(a))
        case (.except(let a), .except(let b)): .except(a.intersection(b))
        }
    }

    private static func isPipeline(_ path: WherePath) -> Bool {
        path.root == .data && path.segments.count == 1 && path.segments[0].key == "pipeline"
    }
}
