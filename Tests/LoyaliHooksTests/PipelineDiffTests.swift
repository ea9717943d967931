import Foundation
import Testing

@testable import LoyaliHooks

// `loyali-hooks diff OLD NEW`: routing changes between two pipeline trees.

@Suite struct PipelineDiffTests {
    /// Two trees, `old/` and `new/`, each with the given files.
    static func trees(old: [String: String], new: [String: String]) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        for (side, files) in [("old", old), ("new", new)] {
            try FileManager.default.createDirectory(atPath: directory.path(side), withIntermediateDirectories: true)
            for (name, text) in files {
                try Data(text.utf8).write(to: URL(fileURLWithPath: directory.path("\(side)/\(name)")))
            }
        }
        return directory
    }

    static let hooks = """
        pipeline: hooks
        source: { type: stdin }
        filter: { events: [points.earned, tier.upgraded] }
        transform:
          - redact: [data.email]
        sign: { secrets: ["${HOOK_SECRET}", "${HOOK_SECRET_OLD:-}"] }
        sinks:
          push: { type: http, url: "https://push.example.com/in", timeout: 5s, retry: { schedule: [0s, 1m] } }
          log: { type: file, path: out.jsonl }

        """

    @Test("the same routes written differently: no change, exit 0")
    func cosmeticChanges() throws {
        let rewritten = """
            # Same routes, other spelling.
            pipeline: hooks
            source:
              type: stdin
            filter:
              events: ["points.*", "tier.*"]
              exclude: [points.redeemed, points.expired, points.adjusted, tier.downgraded]
            transform:
              - redact:
                  - data.email
            sign:
              secrets: ["${HOOK_SECRET}", "${HOOK_SECRET_OLD:-}"]
            sinks:
              push:
                type: http
                url: "https://push.example.com/in"
                timeout: 5s
                retry: { schedule: [0s, 60s] }
              log: { type: file, path: out.jsonl }

            """
        let directory = try Self.trees(old: ["hooks.yaml": Self.hooks], new: ["hooks.yaml": rewritten])
        let result = try CLI.run(["diff", "old", "new"], in: directory.url, unsetting: ["HOOK_SECRET"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "no changes\n")
    }

    @Test("events gained and lost with wildcards expanded, sinks and pipelines added and removed, URL: exit 1")
    func routingChanges() throws {
        let changed = Self.hooks
            .replacingOccurrences(of: "events: [points.earned, tier.upgraded]", with: "events: [\"points.*\"], exclude: [points.expired]")
            .replacingOccurrences(of: "https://push.example.com/in", with: "https://push.example.com/v2")
            .replacingOccurrences(of: "  log: { type: file, path: out.jsonl }\n", with: "  audit: { type: stdout }\n")
        let directory = try Self.trees(
            old: ["hooks.yaml": Self.hooks, "gone.yaml": "source: { type: stdin }\nfilter: { events: [customer.created] }\nsinks: { out: { type: stdout } }\n"],
            new: ["hooks.yaml": changed, "fresh.yaml": "source: { type: stdin }\nfilter: { events: [\"tier.*\"] }\nsinks: { out: { type: stdout } }\n"])
        let result = try CLI.run(["diff", "old", "new", "--json"], in: directory.url, unsetting: ["HOOK_SECRET"])
        #expect(result.status == 1, "\(result.stderr)")
        let lines = try result.stdoutLines.map { try #require(try JSONParser.parse($0).objectValue) }
        func change(_ kind: String, sink: String? = nil) -> JSONObject? {
            lines.first { $0["change"] == .string(kind) && (sink == nil || $0["sink"] == .string(sink!)) }
        }
        #expect(change("events_gained")?["events"] == .array(["points.redeemed", "points.adjusted"].map(JSONValue.string)))
        #expect(change("events_lost")?["events"] == .array([.string("tier.upgraded")]))
        #expect(change("target_changed")?["new"] == .string("https://push.example.com/v2"))
        #expect(change("sink_removed", sink: "log") != nil)
        #expect(change("sink_added", sink: "audit")?["events"] == .array(["points.earned", "points.redeemed", "points.adjusted"].map(JSONValue.string)))
        #expect(change("pipeline_added")?["pipeline"] == .string("fresh"))
        #expect(change("pipeline_removed")?["pipeline"] == .string("gone"))
        #expect(lines.last?["routing_changes"] == .number(JSONNumber(7)))
        #expect(lines.last?["routes_differently"] == .bool(true))
    }

    @Test("steps, retry, options and secrets are other changes, named by variable only: exit 0")
    func otherChanges() throws {
        let changed = Self.hooks
            .replacingOccurrences(of: "- redact: [data.email]", with: "- redact: [data.email, data.phone]")
            .replacingOccurrences(of: "\"${HOOK_SECRET}\", \"${HOOK_SECRET_OLD:-}\"", with: "\"${HOOK_SECRET_NEXT}\", \"${HOOK_SECRET}\"")
            .replacingOccurrences(of: "retry: { schedule: [0s, 1m] }", with: "retry: { schedule: [0s, 1m], jitter: 10% }")
            .replacingOccurrences(of: "timeout: 5s", with: "timeout: 9s")
        let directory = try Self.trees(old: ["hooks.yaml": Self.hooks], new: ["hooks.yaml": changed])
        let secrets = ["HOOK_SECRET": "whsec_c2VjcmV0LXZhbHVlLW9uZQ==", "HOOK_SECRET_NEXT": "whsec_c2VjcmV0LXZhbHVlLXR3bw=="]
        for format in [[], ["--markdown"], ["--json"]] {
            let result = try CLI.run(["diff", "old", "new"] + format, in: directory.url, environment: secrets)
            #expect(result.status == 0, "\(format): \(result.stdout)\(result.stderr)")
            for value in secrets.values { #expect(!result.stdout.contains(value) && !result.stderr.contains(value)) }
        }
        let human = try CLI.run(["diff", "old", "new"], in: directory.url, environment: secrets)
        #expect(human.stdout.contains("secrets rotated: HOOK_SECRET_OLD → HOOK_SECRET_NEXT"), "\(human.stdout)")
        #expect(human.stdout.contains("- redact: [data.email]\n        + redact: [data.email, data.phone]"), "\(human.stdout)")
        #expect(human.stdout.contains("retry: jitter 0% → jitter 10%"), "\(human.stdout)")
        #expect(human.stdout.contains("timeout: 5s → 9s"), "\(human.stdout)")
        #expect(human.stdoutLines.last == "0 routing changes, 4 other changes: nothing routes differently")
        let markdown = try CLI.run(["diff", "old", "new", "--markdown"], in: directory.url, environment: secrets)
        #expect(markdown.stdout.hasPrefix("### loyali-hooks diff: 0 routing changes"), "\(markdown.stdout)")
        #expect(markdown.stdout.contains("```diff\n  - redact: [data.email]\n  + redact: [data.email, data.phone]\n  ```"), "\(markdown.stdout)")
    }

    @Test("a where expression added, changed or removed routes differently; respelling it does not")
    func whereChanges() throws {
        func with(_ condition: String?) -> String {
            Self.hooks.replacingOccurrences(
                of: "filter: { events: [points.earned, tier.upgraded] }",
                with: "filter:\n  events: [points.earned, tier.upgraded]" + (condition.map { "\n  where: '\($0)'" } ?? ""))
        }
        let cases: [(old: String?, new: String?, routes: Bool)] = [
            (nil, "data.points >= 500", true),
            ("data.points >= 500", "data.points > 500", true),
            ("data.points >= 500", nil, true),
            ("data.points >= 500 and data.tier in [\"gold\"]", "(data.points>=5e2) and data.tier in [ \"gold\" ]", false),
            ("500 <= data.points", "data.points >= 500.0", false),
        ]
        for (old, new, routes) in cases {
            let directory = try Self.trees(old: ["hooks.yaml": with(old)], new: ["hooks.yaml": with(new)])
            let result = try CLI.run(["diff", "old", "new"], in: directory.url)
            #expect(result.status == (routes ? 1 : 0), "\(old ?? "-") → \(new ?? "-"): \(result.stdout)\(result.stderr)")
            if routes {
                #expect(result.stdout.contains("! where: \(old ?? "(none)") → \(new ?? "(none)")"), "\(result.stdout)")
            } else {
                #expect(result.stdout == "no changes\n", "\(result.stdout)")
            }
        }
    }

    @Test("a tree that does not load is a config error")
    func brokenTree() throws {
        let directory = try Self.trees(old: ["hooks.yaml": Self.hooks], new: ["hooks.yaml": Self.hooks.replacingOccurrences(of: "timeout:", with: "timout:")])
        let result = try CLI.run(["diff", "old", "new"], in: directory.url)
        #expect(result.status == 2)
        #expect(result.stderr.contains("new/hooks.yaml:8:"), "\(result.stderr)")
        let usage = try CLI.run(["diff", "old"], in: directory.url)
        #expect(usage.status == 2)
    }
}
