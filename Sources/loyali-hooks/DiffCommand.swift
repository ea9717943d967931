import Foundation
import LoyaliHooks

/// `loyali-hooks diff OLD NEW [--markdown | --json]`: what a change to the pipelines does to routing.
enum DiffCommand {
    static let usage = """
        USAGE: loyali-hooks diff OLD NEW [--markdown | --json]

        Compares two pipeline trees (folders or files), such as the main branch checked out in a
        worktree beside a change, and says per pipeline and sink what changes: pipelines and sinks
        added or removed; events gained or lost (wildcards expanded against the catalogue); the
        source; the 'where' expression; transform steps; a sink's type, URL (path, plugin), retry
        policy and other options; secrets added, removed or rotated, by variable name only (values
        are never read into the output). No secret needs to be set.

        Routing changes are those that send an event somewhere it did not go, or stop it: pipelines,
        sinks, events, source, 'where', sink type and URL. Steps, retry, secrets and options change
        what is sent or when, and are listed as other changes.

        OPTIONS:
          --markdown         a Markdown report for a pull-request comment
          --json             one JSON object per change, then a summary object
        EXIT CODES: 0 nothing routes differently; 1 something does; 2 usage or config error.
        EXAMPLE:
          git worktree add /tmp/main main && loyali-hooks diff /tmp/main/pipelines pipelines/
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: [], flags: ["--markdown", "--json"])
        guard args.positionals.count == 2 else { throw .usage("diff needs OLD and NEW: two pipeline folders or files") }
        guard !(args.has("--markdown") && args.has("--json")) else { throw .usage("choose one of --markdown and --json") }
        let old = try load(args.positionals[0])
        let new = try load(args.positionals[1])
        let changes = PipelineDiff.changes(old: old, new: new)
        let routing = changes.filter(\.kind.isRouting).count
        if args.has("--json") {
            for change in changes { Terminal.out(json(change).serializedString) }
            Terminal.out(JSONValue.object(JSONObject([
                "routing_changes": .number(JSONNumber(Int64(routing))),
                "other_changes": .number(JSONNumber(Int64(changes.count - routing))),
                "routes_differently": .bool(routing > 0),
            ])).serializedString)
        } else if args.has("--markdown") {
            Terminal.out(markdown(changes, routing: routing))
        } else {
            Terminal.out(human(changes, routing: routing))
        }
        if routing > 0 { throw .failed("") }
    }

    private static func load(_ path: String) throws(CLIError) -> [PipelineSnapshot] {
        let result = PipelineLoader.offline(paths: [path], environment: ProcessInfo.processInfo.environment).load(paths: [path])
        Reports.diagnostics(result.diagnostics.filter { $0.severity == .error }, json: false)
        guard !result.hasErrors else { throw .config }
        return result.pipelines.map(PipelineSnapshot.init)
    }

    /// The summary line both text forms end or start with.
    static func summary(_ changes: [PipelineDiff.Change], routing: Int) -> String {
        if changes.isEmpty { return "no changes" }
        let other = changes.count - routing
        return "\(Plural.count(routing, "routing change")), \(Plural.count(other, "other change"))"
            + (routing > 0 ? ": events route differently" : ": nothing routes differently")
    }

    /// One change in words: `events gained: a, b`, `url: A → B`.
    static func describe(_ change: PipelineDiff.Change, code: (String) -> String) -> String {
        let list = change.items.map(code).joined(separator: ", ")
        func arrow(_ old: String?, _ new: String?) -> String { "\(old.map(code) ?? "(none)") → \(new.map(code) ?? "(none)")" }
        switch change.kind {
        case .pipelineAdded: return "added; sinks: \(change.new ?? ""); events: \(list.isEmpty ? "none" : list)"
        case .pipelineRemoved: return "removed; its sinks \(change.old ?? "") no longer receive: \(list.isEmpty ? "nothing" : list)"
        case .sourceChanged: return "source: " + arrow(change.old, change.new)
        case .eventsGained: return "events gained: " + list
        case .eventsLost: return "events lost: " + list
        case .whereChanged: return "where: " + arrow(change.old, change.new)
        case .stepsChanged: return "steps changed"
        case .schemeChanged: return "signature scheme: " + arrow(change.old, change.new)
        case .secretsAdded: return "secrets added: " + list
        case .secretsRemoved: return "secrets removed: " + list
        case .secretsRotated: return "secrets rotated: " + arrow(change.old, change.new)
        case .sinkAdded: return "added (\(change.new ?? "")); receives: \(list.isEmpty ? "nothing" : list)"
        case .sinkRemoved: return "removed (\(change.old ?? "")); no longer receives: \(list.isEmpty ? "nothing" : list)"
        case .sinkTypeChanged: return "type: " + arrow(change.old, change.new)
        case .targetChanged, .optionChanged: return "\(change.key ?? "option"): " + arrow(change.old, change.new)
        case .retryChanged: return "retry: " + arrow(change.old, change.new)
        }
    }

    /// Changes grouped by pipeline, then sink, in the order found.
    static func grouped(_ changes: [PipelineDiff.Change]) -> [(pipeline: String, own: [PipelineDiff.Change], sinks: [(String, [PipelineDiff.Change])])] {
        changes.map(\.pipeline).uniqued().map { pipeline in
            let mine = changes.filter { $0.pipeline == pipeline }
            let sinkNames = mine.compactMap(\.sink).uniqued()
            return (pipeline, mine.filter { $0.sink == nil }, sinkNames.map { name in (name, mine.filter { $0.sink == name }) })
        }
    }

    static func human(_ changes: [PipelineDiff.Change], routing: Int) -> String {
        var lines: [String] = []
        for group in grouped(changes) {
            let whole = group.own.first { $0.kind == .pipelineAdded || $0.kind == .pipelineRemoved }
            let mark = whole?.kind == .pipelineAdded ? "+" : whole?.kind == .pipelineRemoved ? "-" : "~"
            if let whole {
                lines.append("\(mark) pipeline \(group.pipeline): \(describe(whole, code: { $0 }))")
                continue
            }
            lines.append("~ pipeline \(group.pipeline)")
            for change in group.own {
                lines.append("    \(change.kind.isRouting ? "!" : " ") \(describe(change, code: { $0 }))")
                if change.kind == .stepsChanged { lines += change.items.map { "        " + $0 } }
            }
            for (sink, sinkChanges) in group.sinks {
                if let whole = sinkChanges.first(where: { $0.kind == .sinkAdded || $0.kind == .sinkRemoved }) {
                    lines.append("  \(whole.kind == .sinkAdded ? "+" : "-") sink \(sink): \(describe(whole, code: { $0 }))")
                    continue
                }
                lines.append("  ~ sink \(sink)")
                for change in sinkChanges { lines.append("      \(change.kind.isRouting ? "!" : " ") \(describe(change, code: { $0 }))") }
            }
        }
        if !changes.isEmpty { lines.append("('!' marks a routing change)") }
        lines.append(summary(changes, routing: routing))
        return lines.joined(separator: "\n")
    }

    static func markdown(_ changes: [PipelineDiff.Change], routing: Int) -> String {
        func code(_ text: String) -> String { "`" + text.replacingOccurrences(of: "`", with: "'") + "`" }
        var lines = ["### loyali-hooks diff: \(routing > 0 ? "⚠️ " : "")\(summary(changes, routing: routing))"]
        for group in grouped(changes) {
            lines.append("")
            if let whole = group.own.first(where: { $0.kind == .pipelineAdded || $0.kind == .pipelineRemoved }) {
                lines.append("#### Pipeline \(code(group.pipeline)) \(whole.kind == .pipelineAdded ? "added" : "removed") (routing)")
                lines.append("")
                lines.append("- \(describe(whole, code: code))")
                continue
            }
            lines.append("#### Pipeline \(code(group.pipeline))")
            lines.append("")
            for change in group.own {
                lines.append("- \(describe(change, code: code))\(change.kind.isRouting ? " **(routing)**" : "")")
                if change.kind == .stepsChanged { lines += ["", "  ```diff"] + change.items.map { "  " + $0 } + ["  ```"] }
            }
            for (sink, sinkChanges) in group.sinks {
                lines.append("- sink \(code(sink)):")
                for change in sinkChanges { lines.append("  - \(describe(change, code: code))\(change.kind.isRouting ? " **(routing)**" : "")") }
            }
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ change: PipelineDiff.Change) -> JSONValue {
        var object = JSONObject()
        object["change"] = .string(change.kind.rawValue)
        object["routing"] = .bool(change.kind.isRouting)
        object["pipeline"] = .string(change.pipeline)
        if let sink = change.sink { object["sink"] = .string(sink) }
        if let key = change.key { object["key"] = .string(key) }
        if let old = change.old { object["old"] = .string(old) }
        if let new = change.new { object["new"] = .string(new) }
        if !change.items.isEmpty {
            let name = switch change.kind {
            case .stepsChanged: "steps"
            case .secretsAdded, .secretsRemoved, .secretsRotated: "variables"
            default: "events"
            }
            object[name] = .array(change.items.map(JSONValue.string))
        }
        return .object(object)
    }
}
