import Foundation
import Testing

@testable import LoyaliHooks

/// Starts `python3 arguments…`, a loopback receiver that prints its port once it listens, and
/// returns the process and that port.
private func startPythonReceiver(_ arguments: [String]) throws -> (Process, Int) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.runTiedToTests()
    let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
    guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        process.sendSignal(SIGKILL)
        throw CLITestError(description: "receiver did not start: \(line)")
    }
    return (process, port)
}

/// A loopback receiver (bench/receiver.py) that verifies every signature with Stripe's rules and
/// logs "<delivery id> <attempt> <status> <signature ok>" per request.
final class VerifyingReceiver {
    let port: Int
    let logURL: URL
    private let process: Process

    /// `delay` holds each answer that long (seconds), so attempts stay in flight.
    init(secret: String, failFirst: Int = 0, status: Int = 200, delay: Double = 0, directory: URL) throws {
        logURL = directory.appendingPathComponent("received-\(UUID().uuidString).log")
        (process, port) = try startPythonReceiver([
            CLI.packageRoot.appendingPathComponent("bench/receiver.py").path, "0", secret, logURL.path,
            "--fail-first", String(failFirst), "--status", String(status), "--delay", String(delay),
        ])
    }

    deinit {
        // SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM.
        process.sendSignal(SIGKILL)
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

/// A loopback endpoint that accepts connections and never answers: every attempt hangs.
final class SilentReceiver {
    let port: Int
    private let process: Process
    /// Where each request's delivery id is logged once its headers arrived, when asked for.
    let logURL: URL?

    /// With `logURL`, each request's headers are read and its `X-Loyali-Delivery` logged there,
    /// one line each: which attempts were really sent.
    init(logURL: URL? = nil) throws {
        self.logURL = logURL
        (process, port) = try startPythonReceiver([
            "-c",
            """
            import socket, sys
            log = open(sys.argv[1], "a", buffering=1) if len(sys.argv) > 1 else None
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(128)
            print(s.getsockname()[1], flush=True)
            held = []
            while True:
                c, _ = s.accept(); held.append(c)
                if log is None: continue
                head = b""
                while b"\\r\\n\\r\\n" not in head:
                    chunk = c.recv(65536)
                    if not chunk: break
                    head += chunk
                for line in head.split(b"\\r\\n"):
                    if line.lower().startswith(b"x-loyali-delivery:"): log.write(line.split(b":", 1)[1].strip().decode() + "\\n")
            """,
        ] + (logURL.map { [$0.path] } ?? []))
    }

    /// The delivery ids of the requests logged so far.
    var received: [String] {
        guard let logURL else { return [] }
        return ((try? String(contentsOf: logURL, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    deinit {
        process.sendSignal(SIGKILL)
        process.waitUntilExit()
    }
}

/// The CLI running in the background (a runner), stopped with a signal by the test.
final class BackgroundCLI {
    let process = Process()
    let stderrURL: URL

    init(_ arguments: [String], in directory: URL, environment extra: [String: String]) throws {
        guard let binary = CLI.binary else { throw CLITestError(description: "loyali-hooks binary not found") }
        stderrURL = directory.appendingPathComponent("stderr-\(UUID().uuidString)")
        try Data().write(to: stderrURL)
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = CLI.environment.merging(extra) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.runTiedToTests()
    }

    deinit {
        process.sendSignal(SIGKILL)
        process.waitUntilExit()
    }

    var pid: Int32 { process.processIdentifier }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits (bounded) for the exit; `nil` if it did not exit in time.
    func stop(_ signal: Int32 = SIGINT, seconds: Double = 20) -> Int32? {
        process.sendSignal(signal)
        guard eventually(seconds: seconds, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }
}

/// Waits (bounded in real time) until `condition` holds.
func eventually(seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
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

    @Test("a dead endpoint pauses its sink; sinks list, disable and enable show and change it, and stats shows the state")
    func sinksPauseDisableEnable() throws {
        let directory = try Self.workspace(sink: """
              hook: { type: http, url: "http://127.0.0.1:${PORT}/hook", max_in_flight: 1, pause: { after: 2, probe: 1h } }
            """)
        let down = try VerifyingReceiver(secret: Self.secret, status: 500, directory: directory.url)
        let state = directory.url.appendingPathComponent("state").path
        let run = try CLI.run(
            ["run", "pipeline.yaml", "--drain", "--state", state], in: directory.url,
            environment: ["DURABLE_SECRET": Self.secret, "PORT": String(down.port)])
        // Paused after two failures: the third delivery waits, neither attempted nor failed.
        #expect(down.requests.count == 2, "\(run.stderr)")
        #expect(run.stderr.contains("sink paused"))
        #expect(run.stderr.contains("sink durable/hook is paused until"), "the summary says where the deliveries wait")
        let list = try Self.run(["sinks", "--json"], in: directory)
        #expect(list.status == 0, "\(list.stderr)")
        let row = try #require(try JSONParser.parse(list.stdout).arrayValue?.first?.objectValue)
        #expect(row["state"] == .string("paused"))
        #expect(row["consecutive_failures"] == .number(JSONNumber(2)))
        #expect(row["paused_until"] != .null)
        #expect(try Self.run(["sinks"], in: directory).stdout.contains("durable/hook"))

        let disable = try Self.run(["sinks", "disable", "durable/hook"], in: directory)
        #expect(disable.status == 0, "\(disable.stderr)")
        #expect(disable.stdout.contains("-> disabled since"))
        #expect(try Self.run(["sinks", "disable", "durable/hook"], in: directory).stdout.contains("disabled already"))
        let stats = try Self.run(["stats", "--json"], in: directory)
        let statsRow = try JSONParser.parse(stats.stdoutLines[0]).objectValue
        #expect(statsRow?["state"]?.objectValue?["state"] == .string("disabled"))
        #expect(try Self.run(["stats"], in: directory).stdout.contains("disabled since"))

        let enable = try Self.run(["sinks", "enable", "durable/hook"], in: directory)
        #expect(enable.status == 0, "\(enable.stderr)")
        #expect(enable.stdout.contains("-> healthy"))
        #expect(try Self.run(["sinks", "enable", "durable/nope"], in: directory).status == 2, "an unknown sink is a usage error")
        #expect(try Self.run(["sinks", "enable", "hook"], in: directory).status == 2)
        #expect(try Self.run(["sinks", "restart", "durable/hook"], in: directory).status == 2)
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

    @Test("stats counts pending and in-flight deliveries and marks no unsettled figure healthy")
    func statsWithUnsettledWork() throws {
        let directory = try TemporaryDirectory()
        let state = directory.url.appendingPathComponent("state").path
        let store = try SQLiteDeliveryStore(directory: state)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let rows = (1...6).map { number in
            NewDelivery(
                id: DeliveryID.make(eventID: "evt_\(number)", pipeline: "p", sink: "hook"), pipeline: "p", sink: "hook",
                eventID: "evt_\(number)", eventType: "points.earned", body: Array("{}".utf8), schedule: [0, 60_000], createdAtMs: now)
        }
        try store.enqueue(rows, checkpoint: nil, nowMs: now)
        // Three succeed, one is being sent, two wait: a third of the work is not settled.
        let claimed = try store.claimDue(sinkKey: (pipeline: "p", sink: "hook"), nowMs: now, limit: 4)
        try store.record(claimed.prefix(3).map {
            AttemptRecord(
                deliveryID: $0.id, attempt: $0.attempt, startedAtMs: now, durationMs: 5, httpStatus: 200, errorClass: nil,
                errorMessage: nil, responseSnippet: nil, outcome: .succeeded)
        })
        let text = try CLI.run(["stats", "--state", state], in: directory.url)
        #expect(text.status == 0, "\(text.stderr)")
        let header = try #require(text.stdoutLines.first)
        #expect(header.contains("PENDING") && header.contains("IN FLIGHT"))
        let row = try #require(text.stdoutLines.dropFirst().first)
        #expect(row.split(separator: " ", omittingEmptySubsequences: true).prefix(4) == ["p/hook", "6", "2", "1"])
        #expect(row.contains("100.0% ⏳"), "\(row)")
        // FAILED, then the sink's STATE.
        #expect(row.hasSuffix("healthy") && row.dropLast("healthy".count).trimmingCharacters(in: .whitespaces).hasSuffix("0 ⏳"), "\(row)")
        #expect(!row.contains("100.0% ✅"))
        #expect(text.stdout.contains("3 deliveries still pending or in flight"))

        let json = try CLI.run(["stats", "--json", "--state", state], in: directory.url)
        let object = try #require(try JSONParser.parse(json.stdoutLines[0]).objectValue)
        #expect(object["pending"] == .number(JSONNumber(2)))
        #expect(object["in_flight"] == .number(JSONNumber(1)))
        #expect(object["healthy"]?.objectValue?["success_rate"] == .null)
        #expect(object["healthy"]?.objectValue?["failed"] == .null)
    }

    @Test("counts agree in number, and a cut LAST value ends in …")
    func pluralsAndCutValues() throws {
        let directory = try Self.workspace(sink: "  audit: { type: file, path: out/audit.jsonl }")
        try (#"{"id":"evt_one","event_type":"points.earned","data":{"customer_id":"c1"}}"# + "\n")
            .write(to: directory.url.appendingPathComponent("events.jsonl"), atomically: true, encoding: .utf8)
        let run = try Self.run(["run", "pipeline.yaml", "--drain"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("1 event read, 0 rejected, 1 delivery queued, 1 delivered, 0 retries scheduled"), "\(run.stderr)")
        let id = DeliveryID.make(eventID: "evt_one", pipeline: "durable", sink: "audit")
        let show = try Self.run(["deliveries", "show", id], in: directory)
        #expect(show.stdout.contains("succeeded · 1 attempt\n"), "\(show.stdout)")

        // A failed attempt whose error is longer than the LAST column.
        let state = directory.url.appendingPathComponent("state").path
        let store = try SQLiteDeliveryStore(directory: state)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let failing = NewDelivery(
            id: DeliveryID.make(eventID: "evt_two", pipeline: "durable", sink: "hook"), pipeline: "durable", sink: "hook",
            eventID: "evt_two", eventType: "points.earned", body: Array("{}".utf8), schedule: [0], createdAtMs: now)
        try store.enqueue([failing], checkpoint: nil, nowMs: now)
        let claimed = try #require(try store.claimDue(sinkKey: (pipeline: "durable", sink: "hook"), nowMs: now, limit: 1).first)
        try store.record([
            AttemptRecord(
                deliveryID: claimed.id, attempt: 1, startedAtMs: now, durationMs: 5, httpStatus: nil, errorClass: "connect",
                errorMessage: "could not connect to 127.0.0.1:9 (connection refused)", responseSnippet: nil, outcome: .failed)
        ])
        let list = try Self.run(["deliveries"], in: directory)
        let row = try #require(list.stdoutLines.first { $0.hasPrefix(failing.id) })
        #expect(row.contains("connect: could … "), "\(row)")
    }

    @Test("the run summary counts deliveries failed by a transform step, as the delivery log lists them")
    func transformFailuresAreCountedAsFailed() throws {
        let directory = try Self.workspace(sink: "  audit: { type: file, path: out/audit.jsonl }\n  copy: { type: file, path: out/copy.jsonl }")
        // customer_id is a string in two of the three events: setting a field inside it fails.
        let yaml = try String(contentsOf: directory.url.appendingPathComponent("pipeline.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "sinks:", with: "transform:\n  - set: { data.customer_id.region: eu }\nsinks:")
        try yaml.write(to: directory.url.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
        let run = try Self.run(["run", "pipeline.yaml", "--drain"], in: directory)
        #expect(run.status == 1, "\(run.stderr)")
        let failed = try Self.run(["deliveries", "--status", "failed", "--json"], in: directory)
        #expect(failed.stdoutLines.count == 4)
        #expect(run.stderr.contains("2 delivered, 0 retries scheduled, 4 failed (4 by transform steps)"), "\(run.stderr)")
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

    @Test("one runner per state directory: a second runner exits 2 naming the first; the log, stats and resend keep working")
    func oneRunnerPerStateDirectory() throws {
        let directory = try Self.workspace(sink: "  audit: { type: file, path: out/audit.jsonl }")
        let state = directory.path("state")
        let outPath = directory.path("out/audit.jsonl")
        func written() -> [Substring] {
            ((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "").split(separator: "\n")
        }
        // Follow mode: the runner stays up, holding the state directory.
        let runner = try BackgroundCLI(
            ["run", "pipeline.yaml", "--state", state], in: directory.url, environment: ["DURABLE_SECRET": Self.secret])
        #expect(eventually { written().count == 3 }, "\(runner.stderr)")

        for command in [["run", "pipeline.yaml", "--drain"], ["serve", "pipeline.yaml", "--admin", "off"]] {
            let second = try Self.run(command, in: directory)
            #expect(second.status == 2, "\(command): \(second.stderr)")
            #expect(second.stderr.contains("state \(state) is in use by pid \(runner.pid)"), "\(second.stderr)")
        }
        #expect(written().count == 3, "the refused runners sent nothing")

        let list = try Self.run(["deliveries", "--json"], in: directory)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdoutLines.count == 3)
        #expect(try Self.run(["stats"], in: directory).status == 0)
        let id = try #require(try JSONParser.parse(list.stdoutLines[0]).objectValue?["id"]?.stringValue)
        #expect(try Self.run(["deliveries", "show", id], in: directory).status == 0)
        // The running runner notices a resend made by another process.
        let resend = try Self.run(["resend", id], in: directory)
        #expect(resend.status == 0, "\(resend.stderr)")
        #expect(eventually { written().count == 4 }, "the runner did not pick the resend up")
        #expect(written().last?.contains(id) == true)

        #expect(runner.stop() == 0, "\(runner.stderr)")
        // The lock goes with the process: the next runner starts.
        let next = try Self.run(["run", "pipeline.yaml", "--once"], in: directory)
        #expect(next.status == 0, "\(next.stderr)")
    }

    @Test("resend says why a known delivery cannot be resent now (in flight), and still queues the others")
    func resendExplainsInFlight() throws {
        let directory = try Self.workspace(sink: "  audit: { type: file, path: out/audit.jsonl }")
        #expect(try Self.run(["run", "pipeline.yaml", "--drain"], in: directory).status == 0)
        let store = try SQLiteDeliveryStore(directory: directory.path("state"))
        let rows = try store.list(DeliveryQuery())
        // Queued again and claimed by a runner that is sending it right now.
        #expect(try store.resend(ids: [rows[0].id], nowMs: 0) == [rows[0].id])
        let inFlight = try #require(try store.claimDue(sinkKey: ("durable", "audit"), nowMs: 0, limit: 1).first)
        let other = try #require(rows.first { $0.id != inFlight.id }?.id)
        let resend = try Self.run(["resend", inFlight.id, other, "whd_nope"], in: directory)
        #expect(resend.status == 1)
        #expect(resend.stdout.contains("queued 1 delivery"))
        #expect(resend.stderr.contains("cannot resend \(inFlight.id): it is in flight"), "\(resend.stderr)")
        #expect(resend.stderr.contains("unknown delivery id: whd_nope"))
        #expect(!resend.stderr.contains("unknown delivery id: \(inFlight.id)"))
    }

    @Test("attempt numbers stay truthful across a clean stop mid-attempt and a kill -9: no attempt number is sent twice")
    func attemptNumbersSurviveStopsAndCrashes() throws {
        let directory = try Self.workspace(sink: """
              hook: { type: http, url: "http://127.0.0.1:${PORT}/hook", timeout: 60s }
            """)
        let state = directory.path("state")
        let silent = try SilentReceiver()
        let environment = ["DURABLE_SECRET": Self.secret, "PORT": String(silent.port)]
        func inFlight() -> Int { (try? SQLiteDeliveryStore(directory: state).counts()[.inFlight]) ?? 0 }

        // 1. A clean stop whose grace runs out while every attempt hangs.
        let first = try BackgroundCLI(["run", "pipeline.yaml", "--state", state, "--grace", "200ms"], in: directory.url, environment: environment)
        #expect(eventually { inFlight() == 3 }, "\(first.stderr)")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(first.stop(SIGTERM) == 0, "\(first.stderr)")
        let store = try SQLiteDeliveryStore(directory: state)
        #expect(try store.counts()[.inFlight] == 0, "a clean stop leaves nothing in flight")
        let ids = try store.list(DeliveryQuery()).map(\.id)
        #expect(ids.count == 3)
        for id in ids {
            let (summary, attempts) = try #require(try store.detail(id: id))
            #expect(summary.status == .retrying)
            #expect(attempts.map(\.attempt) == [1])
            #expect(attempts.map(\.errorClass) == ["interrupted"])
        }

        // 2. Attempt 2 hangs too, and the runner is killed.
        let second = try BackgroundCLI(["run", "pipeline.yaml", "--state", state], in: directory.url, environment: environment)
        #expect(eventually { inFlight() == 3 }, "\(second.stderr)")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(second.stop(SIGKILL) != nil)

        // 3. The receiver is back: each delivery arrives as attempt 3, never as 1 or 2 again.
        let receiver = try VerifyingReceiver(secret: Self.secret, directory: directory.url)
        let third = try CLI.run(
            ["run", "pipeline.yaml", "--drain", "--state", state], in: directory.url,
            environment: ["DURABLE_SECRET": Self.secret, "PORT": String(receiver.port)])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(receiver.requests.map(\.attempt) == [3, 3, 3])
        #expect(Set(receiver.requests.map(\.id)) == Set(ids))
        for id in ids {
            let (summary, attempts) = try #require(try store.detail(id: id))
            #expect(summary.status == .succeeded)
            #expect(attempts.map(\.attempt) == [1, 2, 3], "deliveries show lists every attempt")
            #expect(attempts.map(\.errorClass) == ["interrupted", "interrupted", nil])
        }
    }

    @Test("kill -9 of a runner that claimed many but sent few: the restart logs interrupted attempts only for what may have been sent")
    func crashLogsOnlyStartedAttempts() throws {
        let directory = try TemporaryDirectory()
        let count = 40
        let events = (1...count).map { #"{"id":"evt_\#($0)","event_type":"points.earned","data":{"customer_id":"c\#($0)","amount":5}}"# }
        try (events.joined(separator: "\n") + "\n").write(to: directory.url.appendingPathComponent("events.jsonl"), atomically: true, encoding: .utf8)
        let maxInFlight = 3
        try """
            pipeline: durable
            source: { type: file, path: events.jsonl }
            sign: { secrets: ["${DURABLE_SECRET}"] }
            sinks:
              hook: { type: http, url: "http://127.0.0.1:${PORT}/hook", timeout: 60s, max_in_flight: \(maxInFlight) }
            """.write(to: directory.url.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
        let state = directory.path("state")
        let receiver = try SilentReceiver(logURL: directory.url.appendingPathComponent("received.log"))
        let runner = try BackgroundCLI(
            ["run", "pipeline.yaml", "--state", state], in: directory.url,
            environment: ["DURABLE_SECRET": Self.secret, "PORT": String(receiver.port)])
        // Every event is stored and claimed (handed to the lane), and max_in_flight requests hang.
        func inFlight() -> Int { (try? SQLiteDeliveryStore(directory: state).counts()[.inFlight]) ?? 0 }
        #expect(eventually { inFlight() == count && receiver.received.count == maxInFlight }, "\(runner.stderr)")
        // The lane marks the next max_in_flight attempts started ahead, so they go out the moment
        // a slot frees: those are what a crash may over-report.
        let database = try SQLiteDatabase(path: state + "/" + SQLiteDeliveryStore.fileName)
        func marked() -> Int64 {
            (try? database.scalarInt64("SELECT count(*) FROM deliveries WHERE started_attempt > attempts")) ?? -1
        }
        #expect(eventually { marked() == Int64(2 * maxInFlight) }, "\(marked()) marked")
        #expect(runner.stop(SIGKILL) != nil)
        let sent = Set(receiver.received)
        #expect(sent.count == maxInFlight)

        let store = try SQLiteDeliveryStore(directory: state)
        #expect(try store.recoverInFlight() == count, "a restart puts every delivery left in flight back")
        var interrupted = Set<String>()
        for summary in try store.list(DeliveryQuery(limit: 1_000)) {
            let (_, attempts) = try #require(try store.detail(id: summary.id))
            if attempts.isEmpty {
                #expect(summary.status == .pending && summary.attempts == 0, "\(summary.id) was never started: nothing counted")
            } else {
                #expect(attempts.map(\.errorClass) == [AttemptRecord.interruptedErrorClass])
                #expect(summary.status == .retrying && summary.attempts == 1)
                interrupted.insert(summary.id)
            }
        }
        #expect(sent.isSubset(of: interrupted), "every attempt that reached the receiver is logged")
        // What was marked started and not yet sent (one window of max_in_flight at most) is all a
        // crash over-reports; before marks, all 40 claimed deliveries were logged interrupted.
        #expect(interrupted.count == sent.count + maxInFlight, "\(interrupted.count) interrupted, \(sent.count) sent")
    }

    @Test("deliveries, show, stats and resend never create state: a missing directory or database is exit 2")
    func readCommandsNeverCreateState() throws {
        let directory = try TemporaryDirectory()
        let typo = directory.path("stat")
        let commands = [["deliveries"], ["deliveries", "show", "whd_0"], ["stats"], ["stats", "--json"], ["resend", "whd_0"]]
        for command in commands {
            let result = try CLI.run(command + ["--state", typo], in: directory.url)
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("\(typo): error: the state directory does not exist"), "\(command): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: typo), "\(command) created \(typo)")
        }
        // The default directory, through the environment, behaves the same.
        let fromEnvironment = try CLI.run(["deliveries"], in: directory.url, environment: ["LOYALI_HOOKS_STATE": typo])
        #expect(fromEnvironment.status == 2)
        let empty = directory.path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        for command in commands {
            let result = try CLI.run(command + ["--state", empty], in: directory.url)
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("has no database"), "\(command): \(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: empty).isEmpty, "\(command) wrote into \(empty)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted() == ["empty"])
    }

    @Test("the log commands open the store read-only")
    func readOnlyStoreCannotWrite() throws {
        let directory = try Self.workspace(sink: "  audit: { type: file, path: out/audit.jsonl }")
        #expect(try Self.run(["run", "pipeline.yaml", "--drain"], in: directory).status == 0)
        let store = try SQLiteDeliveryStore(existingDirectory: directory.path("state"), readOnly: true)
        let rows = try store.list(DeliveryQuery())
        #expect(rows.count == 3)
        #expect(throws: SQLiteError.self) { try store.resend(ids: [rows[0].id], nowMs: 0) }
        let writable = try SQLiteDeliveryStore(existingDirectory: directory.path("state"), readOnly: false)
        #expect(try writable.resend(ids: [rows[0].id], nowMs: 0) == [rows[0].id])
        // The reader sees the writer's commit.
        #expect(try store.detail(id: rows[0].id)?.0.status == .pending)
    }

    @Test("a source that cannot be read fails the run: exit 1 with the reason in the summary")
    func failedSourceFailsTheRun() throws {
        let directory = try Self.workspace(sink: "  audit: { type: file, path: out/audit.jsonl }")
        let input = try Self.run(["run", "pipeline.yaml", "--drain", "--input", directory.url.path], in: directory)
        #expect(input.status == 1, "\(input.stderr)")
        #expect(input.stderr.contains("1 source failed"), "\(input.stderr)")
        #expect(input.stderr.contains("error: run failed: source input:\(directory.url.path) failed"), "\(input.stderr)")
        #expect(input.stderr.contains("Is a directory"))
        // A pipeline's own file source, in the default (follow) mode: the run ends, failed.
        try FileManager.default.removeItem(at: directory.url.appendingPathComponent("events.jsonl"))
        try FileManager.default.createDirectory(at: directory.url.appendingPathComponent("events.jsonl"), withIntermediateDirectories: false)
        let own = try Self.run(["run", "pipeline.yaml"], in: directory)
        #expect(own.status == 1, "\(own.stderr)")
        #expect(own.stderr.contains("error: run failed: source file:events.jsonl failed"), "\(own.stderr)")
    }
}
