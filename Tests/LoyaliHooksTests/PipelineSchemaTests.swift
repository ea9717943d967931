import Foundation
import Testing

@testable import LoyaliHooks

// `loyali-hooks schema` and docs/pipeline.schema.json: the JSON Schema of pipeline files, checked
// with Python's jsonschema (python3-jsonschema and python3-yaml, from .ci/install-deps).

@Suite struct PipelineSchemaTests {
    static let shipped = CLI.packageRoot.appendingPathComponent("docs/pipeline.schema.json")
    static let validator = CLI.fixtures.appendingPathComponent("validate-schema.py").path

    /// Pipelines the loader and the schema must both accept.
    static let good: [String: String] = [
        "everything.yaml": """
            pipeline: everything
            description: Every kind of key
            source: { type: file, path: "${EVENTS:-events.jsonl}" }
            filter:
              events: ["points.*", tier.upgraded]
              exclude: [points.expired]
              where: data.points >= 500 and data.tier in ["gold"]
            transform:
              - redact: [data.email]
              - set: { data.program.name: gold, data.count: 3 }
              - remove: data.notes
              - rename: { data.customer_id: data.user_id }
              - pick: [data.user_id, data.program]
              - plugin: notify-message
                config: { field: message }
            sign: { scheme: standard-webhooks, secrets: ["${HOOK_SECRET}", "${HOOK_SECRET_OLD:-}"] }
            sinks:
              hook:
                type: http
                url: "https://hooks.example.com/in?token=${TOKEN}"
                timeout: 1.5m
                connect_timeout: 500ms
                headers: { Authorization: "Bearer ${TOKEN}", X-Team: loyalty }
                max_in_flight: 8
                allow_insecure_http: false
                retry: { schedule: [0s, 10s, 1m, 2h], jitter: 10%, max_retry_after: 1h }
              log: { type: file, path: out.jsonl }
              console: { type: stdout }
              sheet: { type: plugin, plugin: csv-analytics, config: { path: rows.csv } }

            """,
        "ingest.yaml": """
            source: { type: http, listen: "127.0.0.1:8787", path: /events, token: "${INGEST_TOKEN}" }
            sinks: { out: { type: stdout, retry: { schedule: [0] } } }

            """,
    ]

    /// Broken pipelines the loader and the schema must both refuse, with what is wrong.
    static let bad: [String: String] = [
        "sink-type.yaml": "source: { type: stdin }\nsinks: { a: { type: htp, url: \"https://x\" } }\n",
        "key-beside-unknown-type.yaml": "source: { type: stdin }\nsinks: { a: { type: htp, retyr: {} } }\n",
        "sink-key.yaml": "source: { type: stdin }\nsinks: { a: { type: file, path: x, url: \"https://x\" } }\n",
        "top-key.yaml": "source: { type: stdin }\nsinks: { a: { type: stdout } }\nsink: {}\n",
        "event.yaml": "source: { type: stdin }\nfilter: { events: [point.earned] }\nsinks: { a: { type: stdout } }\n",
        "wildcard.yaml": "source: { type: stdin }\nfilter: { events: [\"point.*\"] }\nsinks: { a: { type: stdout } }\n",
        "duration.yaml": "source: { type: stdin }\nsinks: { a: { type: http, url: \"https://x\", timeout: 10 seconds } }\n",
        "schedule.yaml": "source: { type: stdin }\nsinks: { a: { type: stdout, retry: { schedule: [0s, 5 min] } } }\n",
        "step.yaml": "source: { type: stdin }\ntransform: [{ redcat: [data.x] }]\nsinks: { a: { type: stdout } }\n",
        "path.yaml": "source: { type: stdin }\ntransform: [{ redact: [customer.email] }]\nsinks: { a: { type: stdout } }\n",
        "no-source.yaml": "sinks: { a: { type: stdout } }\n",
        "no-url.yaml": "source: { type: stdin }\nsinks: { a: { type: http } }\n",
        "source-type.yaml": "source: { type: kafka }\nsinks: { a: { type: stdout } }\n",
        "scheme.yaml": "source: { type: stdin }\nsign: { scheme: hmac, secrets: [\"${S}\"] }\nsinks: { a: { type: stdout } }\n",
        "integer.yaml": "source: { type: stdin }\nsinks: { a: { type: http, url: \"https://x\", max_in_flight: 0 } }\n",
        "plugin-config.yaml": "source: { type: stdin }\ntransform: [{ plugin: notify-message, config: { feild: x } }]\nsinks: { a: { type: stdout } }\n",
        "plugin-name.yaml": "source: { type: stdin }\nsinks: { a: { type: plugin, plugin: csv-analytic } }\n",
        "name.yaml": "pipeline: \"bad name\"\nsource: { type: stdin }\nsinks: { a: { type: stdout } }\n",
    ]

    static func write(_ files: [String: String]) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: directory.path(name))) }
        return directory
    }

    /// Runs the Python validator on `files` against `schema`; one line per file.
    static func python(schema: String, files: [String]) throws -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", validator, schema] + files
        process.environment = ["PATH": CLI.environment["PATH"]!]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.runTiedToTests()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus, stdoutData: stdout, stderrData: stderr)
    }

    @Test("docs/pipeline.schema.json is what 'loyali-hooks schema' prints for the shipped plugins")
    func shippedSchemaIsCurrent() throws {
        let result = try CLI.run(["schema"])
        #expect(result.status == 0, "\(result.stderr)")
        let shipped = try Data(contentsOf: Self.shipped)
        #expect(shipped == result.stdoutData, "docs/pipeline.schema.json is stale: run 'loyali-hooks schema > docs/pipeline.schema.json'")
    }

    @Test("every example pipeline names the schema for yaml-language-server and passes it")
    func examplesPassSchema() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: CLI.packageRoot.appendingPathComponent("pipelines").path)
            .filter { $0.hasSuffix(".yaml") }.sorted().map { CLI.packageRoot.appendingPathComponent("pipelines/\($0)").path }
        #expect(files.count >= 4)
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(text.hasPrefix("# yaml-language-server: $schema=../docs/pipeline.schema.json\n"), "\(file)")
        }
        let result = try Self.python(schema: Self.shipped.path, files: files)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdoutLines.count == files.count && result.stdoutLines.allSatisfy { $0.hasSuffix(": ok") }, "\(result.stdout)")
    }

    @Test("the schema and the loader agree: good files pass both, each broken file fails both")
    func schemaAndLoaderAgree() throws {
        let schemaDirectory = try TemporaryDirectory()
        let schema = schemaDirectory.path("schema.json")
        try CLI.run(["schema"]).stdoutData.write(to: URL(fileURLWithPath: schema))
        let environment = ["HOOK_SECRET": "whsec_c2VjcmV0LXZhbHVlLW9uZQ==", "TOKEN": "t", "INGEST_TOKEN": "i", "S": "s",
                           PluginCatalog.environmentVariable: CLI.packageRoot.appendingPathComponent("plugins").path]
        let loader = PipelineLoader(environment: environment)

        let good = try Self.write(Self.good)
        let goodFiles = Self.good.keys.sorted().map { good.path($0) }
        for file in goodFiles {
            let loaded = loader.load(paths: [file])
            #expect(!loaded.hasErrors, "\(file): \(loaded.diagnostics.map(\.description))")
        }
        let accepted = try Self.python(schema: schema, files: goodFiles)
        #expect(accepted.status == 0, "\(accepted.stdout)\(accepted.stderr)")

        let bad = try Self.write(Self.bad)
        let names = Self.bad.keys.sorted()
        for name in names {
            let loaded = loader.load(paths: [bad.path(name)])
            #expect(loaded.hasErrors, "the loader accepts \(name)")
        }
        let refused = try Self.python(schema: schema, files: names.map { bad.path($0) })
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stdoutLines.count == names.count, "\(refused.stdout)\(refused.stderr)")
        for (name, line) in zip(names, refused.stdoutLines) {
            #expect(line.hasPrefix(bad.path(name) + ": invalid: "), "the schema accepts \(name): \(line)")
        }
    }

    @Test("plugin config comes from the manifests only when there are plugins to describe")
    func pluginConfig() throws {
        let without = try CLI.run(["schema", "--no-plugins"])
        #expect(without.status == 0)
        #expect(!without.stdout.contains("csv-analytics"))
        let with = try CLI.run(["schema", "--plugins", "plugins"])
        #expect(with.stdout.contains("\"const\": \"csv-analytics\""))
        #expect(with.stdout == (try CLI.run(["schema"])).stdout)
        let missing = try CLI.run(["schema", "--plugins", "no-such-folder"])
        #expect(missing.status == 2)
    }

    @Test("the schema's duration pattern is the grammar Duration.parse reads")
    func durationPattern() throws {
        let regex = try NSRegularExpression(pattern: Duration.configPattern)
        for text in ["0", "0s", "500ms", "10s", "1.5m", "2h", "1d", ".5s", "1.s", "10", "1.5", "s", "5 s", "1e3s", "-1s", "1w", "1.2.3s", "ms", "5mss"] {
            let matches = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
            #expect(matches == (Duration.parse(config: text) != nil), "\(text)")
        }
    }
}
