import Foundation
import Testing

@testable import LoyaliHooks

/// A loopback receiver (bench/receiver.py) that verifies every signature with Stripe's rules and
/// logs "<delivery id> <attempt> <status> <signature ok>" per request.
final class VerifyingReceiver {
    let port: Int
    let logURL: URL
    private let process: Process

    init(secret: String, failFirst: Int = 0, status: Int = 200, directory: URL) throws {
        logURL = directory.appendingPathComponent("received-\(UUID().uuidString).log")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", CLI.packageRoot.appendingPathComponent("bench/receiver.py").path, "0", secret, logURL.path,
            "--fail-first", String(failFirst), "--status", String(status),
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // The receiver prints its port once it listens.
        let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(process.processIdentifier, SIGKILL)
            throw CLITestError(description: "receiver did not start: \(line)")
        }
        self.port = port
        self.process = process
    }

    deinit {
        // SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Logged requests as (delivery id, attempt, status, signature ok).
    var requests: [(id: String, attempt: Int, status: Int, signed: Bool)] {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 4, let attempt = Int(fields[1]), let status = Int(fields[2]) else { return nil }
            return (String(fields[0]), attempt, status, fields[3] == "True")
        }
    }
}

/// `run` for real (store on), then `deliveries`, `stats` and `resend` against the same state.
@Suite("Durable delivery through the CLI", .serialized)
struct DurableCLITests {
    static let secret = "whsec_durable_cli_test"

    /// A pipeline file and a three-event input in a fresh directory.
    static func workspace(sink: String) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        let events = [
            #"{"id":"evt_a","event_type":"points.earned","data":{"customer_id":"c1","amount":150}}"#,
            #"{"id":"evt_b","event_type":"tier.upgraded","data":{"customer_id":"c1","new_tier":{"name":"Gold"}}}"#,
            #"{"id":"evt_c","event_type":"redemption.created","data":{"redemption_id":"red_1"}}"#,
        ]
        try (events.joined(separator: "\n") + "\n").write(to: directory.url.appendingPathComponent("events.jsonl"), atomically: true, encoding: .utf8)
        let yaml = """
            pipeline: durable
            source: { type: file, path: events.jsonl }
            sign: { secrets: ["${DURABLE_SECRET}"] }
            sinks:
            \(sink)
            """
        try yaml.write(to: directory.url.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
        return directory
    }

    static func run(_ arguments: [String], in directory: TemporaryDirectory) throws -> CLIResult {
        try CLI.run(arguments + ["--state", directory.url.appendingPathComponent("state").path], in: directory.url,
                    environment: ["DURABLE_SECRET": secret])
    }

    @Test("a receiver failing twice sees a third attempt with the same id and fresh valid signatures")
    func retriesOverHTTP() throws {
        let directory = try Self.workspace(sink: """
              hook: { type: http, url: "http://127.0.0.1:${PORT}/hook", retry: { schedule: [0s, 100ms, 100ms] } }
            """)
        let receiver = try VerifyingReceiver(secret: Self.secret, failFirst: 2, directory: directory.url)
        let result = try CLI.run(
            ["run", "pipeline.yaml", "--drain", "--state", directory.url.appendingPathComponent("state").path],
            in: directory.url, environment: ["DURABLE_SECRET": Self.secret, "PORT": String(receiver.port)])
        #expect(result.status == 0, "\(result.stderr)")
        let requests = receiver.requests
        #expect(requests.count == 9)
        #expect(requests.allSatisfy { $0.signed })
        for id in Set(requests.map(\.id)) {
            #expect(requests.filter { $0.id == id }.map(\.attempt).sorted() == [1, 2, 3])
        }
        let show = try Self.run(["deliveries", "show", requests[0].id, "--json"], in: directory)
        let detail = try JSONParser.parse(show.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(detail.objectValue?["status"] == .string("succeeded"))
        #expect(detail.objectValue?["attempt_log"]?.arrayValue?.count == 3)
    }

    @Test("an endpoint that always fails ends failed; resend --failed delivers once it recovers")
    func failedThenResend() throws {
        let directory = try Self.workspace(sink: """
              hook: { type: http, url: "http://127.0.0.1:${PORT}/hook", retry: { schedule: [0s, 50ms] } }
            """)
        let down = try VerifyingReceiver(secret: Self.secret, status: 500, directory: directory.url)
        let environment = ["DURABLE_SECRET": Self.secret, "PORT": String(down.port)]
        let state = directory.url.appendingPathComponent("state").path
        let first = try CLI.run(["run", "pipeline.yaml", "--drain", "--state", state], in: directory.url, environment: environment)
        #expect(first.status == 1, "failed deliveries make the run exit 1")
        let failed = try Self.run(["deliveries", "--status", "failed", "--json"], in: directory)
        #expect(failed.stdoutLines.count == 3)

        let up = try VerifyingReceiver(secret: Self.secret, directory: directory.url)
        // The endpoint moved: the pipeline now points at the healthy receiver.
        let resend = try Self.run(["resend", "--failed"], in: directory)
        #expect(resend.stdout.contains("queued 3"))
        let second = try CLI.run(
            ["run", "pipeline.yaml", "--drain", "--state", state], in: directory.url,
            environment: ["DURABLE_SECRET": Self.secret, "PORT": String(up.port)])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(Set(up.requests.map(\.id)) == Set(down.requests.map(\.id)))
        #expect(up.requests.allSatisfy { $0.attempt == 3 && $0.signed })
    }

    @Test("file sink: deliveries, stats and a manual resend")
    func logStatsAndResend() throws {
        let directory = try Self.workspace(sink: "  audit: { type: file, path: out/audit.jsonl }")
        let run = try Self.run(["run", "pipeline.yaml", "--drain"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let written = try String(contentsOf: directory.url.appendingPathComponent("out/audit.jsonl"), encoding: .utf8)
        #expect(written.split(separator: "\n").count == 3)

        let list = try Self.run(["deliveries", "--json"], in: directory)
        let rows = try list.stdoutLines.map { try JSONParser.parse($0).objectValue! }
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0["status"] == .string("succeeded") })
        let filtered = try Self.run(["deliveries", "--event-type", "tier.upgraded", "--json"], in: directory)
        #expect(filtered.stdoutLines.count == 1)

        let stats = try Self.run(["stats", "--json"], in: directory)
        let row = try JSONParser.parse(stats.stdoutLines[0]).objectValue!
        #expect(row["deliveries"] == .number(JSONNumber(3)))
        #expect(row["success_rate"] == .number(JSONNumber(literal: "1.0")))
        #expect(row["healthy"]?.objectValue?["failed"] == .bool(true))

        guard case .string(let id) = rows[0]["id"] else { return }
        #expect(try Self.run(["resend", id], in: directory).status == 0)
        #expect(try Self.run(["resend", "whd_unknown"], in: directory).status == 1)
        let once = try Self.run(["run", "pipeline.yaml", "--once"], in: directory)
        #expect(once.status == 0, "\(once.stderr)")
        let again = try String(contentsOf: directory.url.appendingPathComponent("out/audit.jsonl"), encoding: .utf8)
        #expect(again.split(separator: "\n").filter { $0.contains(id) }.count == 2, "resent with the same id")
    }

    @Test("a plain run over stdin, with nothing to follow, exits once every delivery settled")
    func plainRunOverStdinExits() throws {
        let directory = try Self.workspace(sink: "  audit: { type: file, path: out/audit.jsonl }")
        let events = try Data(contentsOf: directory.url.appendingPathComponent("events.jsonl"))
        let run = try CLI.run(
            ["run", "pipeline.yaml", "--input", "-", "--state", directory.url.appendingPathComponent("state").path],
            stdin: events, in: directory.url, environment: ["DURABLE_SECRET": Self.secret])
        #expect(run.status == 0, "\(run.stderr)")
        let written = try String(contentsOf: directory.url.appendingPathComponent("out/audit.jsonl"), encoding: .utf8)
        #expect(written.split(separator: "\n").count == 3)
    }
}
