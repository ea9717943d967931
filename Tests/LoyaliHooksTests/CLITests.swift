import Foundation
import Testing

@testable import LoyaliHooks

// End-to-end tests of the `loyali-hooks` executable, run as a subprocess with a controlled
// environment and the package root as working directory.
//
// Golden files live in Tests/Fixtures/golden/. After an intended output change, regenerate them:
//
//     LOYALI_UPDATE_GOLDEN=1 swift test --filter CLIGoldenTests
//
// The binary is `$LOYALI_HOOKS_BIN` when set, else the one built next to this test bundle, else
// `.build-tests/debug/loyali-hooks`, else `.build/debug/loyali-hooks`.

// MARK: - Running the CLI

/// What one invocation produced.
struct CLIResult {
    var status: Int32
    var stdoutData: Data
    var stderrData: Data
    var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    var stderr: String { String(decoding: stderrData, as: UTF8.self) }
    /// Non-empty stdout lines.
    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
    /// Non-empty stderr lines.
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

struct CLITestError: Error, CustomStringConvertible {
    var description: String
}

enum CLI {
    /// The package root: three levels above this file (Tests/LoyaliHooksTests/CLITests.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")
    static let golden = fixtures.appendingPathComponent("golden")

    static let notifySecret = "whsec_bm90aWZ5LXRlc3Qtc2VjcmV0LTAwMDE="
    static let fulfillmentSecret = "whsec_ZnVsZmlsbG1lbnQtdGVzdC1zZWNyZXQtMDE="
    static let syncSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let allSecrets = [notifySecret, fulfillmentSecret, syncSecret].map(WebhookSecret.init)

    /// Only these variables reach the binary, so the host's environment cannot change the output.
    static let environment: [String: String] = [
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "NOTIFY_SECRET": notifySecret,
        "FULFILLMENT_SECRET": fulfillmentSecret,
        "SYNC_SECRET": syncSecret,
    ]

    /// The executable under test.
    static let binary: URL? = {
        let manager = FileManager.default
        if let given = ProcessInfo.processInfo.environment["LOYALI_HOOKS_BIN"], !given.isEmpty {
            return URL(fileURLWithPath: given)
        }
        var candidates: [URL] = []
        // The test bundle sits in the build directory that also holds the freshly built binary.
        if let bundleDirectory = Bundle.main.executableURL?.deletingLastPathComponent() {
            candidates.append(bundleDirectory.appendingPathComponent("loyali-hooks"))
        }
        candidates.append(packageRoot.appendingPathComponent(".build-tests/debug/loyali-hooks"))
        candidates.append(packageRoot.appendingPathComponent(".build/debug/loyali-hooks"))
        return candidates.first { manager.isExecutableFile(atPath: $0.path) }
    }()

    /// Runs the CLI with `arguments`; stdin is `stdin` (or empty), output goes through temp files
    /// so large outputs cannot fill a pipe and deadlock.
    static func run(
        _ arguments: [String], stdin: Data? = nil, in directory: URL = packageRoot,
        environment extra: [String: String] = [:], unsetting unset: [String] = []
    ) throws -> CLIResult {
        guard let binary else {
            throw CLITestError(description: "loyali-hooks binary not found; run `swift build --scratch-path .build-tests` or set LOYALI_HOOKS_BIN")
        }
        let scratch = try TemporaryDirectory()
        let outURL = scratch.url.appendingPathComponent("stdout")
        let errURL = scratch.url.appendingPathComponent("stderr")
        let inURL = scratch.url.appendingPathComponent("stdin")
        try (stdin ?? Data()).write(to: inURL)
        try Data().write(to: outURL)
        try Data().write(to: errURL)
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)
        let inHandle = try FileHandle(forReadingFrom: inURL)
        defer {
            try? outHandle.close()
            try? errHandle.close()
            try? inHandle.close()
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var variables = environment.merging(extra) { $1 }
        for name in unset { variables[name] = nil }
        process.environment = variables
        process.standardInput = inHandle
        process.standardOutput = outHandle
        process.standardError = errHandle
        try process.runTiedToTests()
        process.waitUntilExit()
        return CLIResult(
            status: process.terminationStatus,
            stdoutData: try Data(contentsOf: outURL),
            stderrData: try Data(contentsOf: errURL))
    }

    /// Compares `actual` with the golden file `name`, or rewrites it when LOYALI_UPDATE_GOLDEN=1.
    static func expectGolden(
        _ actual: Data, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let url = golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["LOYALI_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: golden, withIntermediateDirectories: true)
            try actual.write(to: url)
            return
        }
        guard let expected = try? Data(contentsOf: url) else {
            Issue.record("missing golden file \(name); run with LOYALI_UPDATE_GOLDEN=1 to create it", sourceLocation: sourceLocation)
            return
        }
        guard expected != actual else { return }
        let want = String(decoding: expected, as: UTF8.self).components(separatedBy: "\n")
        let got = String(decoding: actual, as: UTF8.self).components(separatedBy: "\n")
        let index = zip(want, got).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(want.count, got.count)
        let wantLine = index < want.count ? want[index] : "<end of file>"
        let gotLine = index < got.count ? got[index] : "<end of file>"
        Issue.record(
            """
            output differs from golden file \(name) at line \(index + 1) (\(expected.count) vs \(actual.count) bytes)
              golden: \(wantLine)
              actual: \(gotLine)
            run with LOYALI_UPDATE_GOLDEN=1 to accept the new output
            """, sourceLocation: sourceLocation)
    }
}

/// A temporary directory removed when the value is released. `Sendable`: its one property is
/// immutable.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("loyali-cli-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

private func fixture(_ name: String) -> String { CLI.fixtures.appendingPathComponent(name).path }

/// Parses one `--json` output line into an object.
private func object(_ line: String) throws -> JSONObject {
    try #require(try JSONParser.parse(line).objectValue)
}

// MARK: - Golden files

@Suite struct CLIGoldenTests {
    static let dryRunArguments = ["run", "pipelines/", "--dry-run", "--json", "--timestamp", "1700000000"]

    @Test func bundledPipelinesDryRunJSON() throws {
        let result = try CLI.run(Self.dryRunArguments)
        #expect(result.status == 0, "\(result.stderr)")
        try CLI.expectGolden(result.stdoutData, "run-dry-run.jsonl")
        #expect(result.stderr.hasPrefix("dry-run: "))
        #expect(result.stderr.contains(" 0 rejected, "))
        #expect(result.stderr.hasSuffix(", 0 failed across 5 pipelines\n"))
        // Deterministic: a second run prints the same bytes.
        #expect(try CLI.run(Self.dryRunArguments).stdoutData == result.stdoutData)
    }

    @Test func dryRunJSONLinesAreCompleteAndVerify() throws {
        let result = try CLI.run(Self.dryRunArguments)
        #expect(result.status == 0)
        let lines = result.stdoutLines
        #expect(!lines.isEmpty)
        let loyali = LoyaliSignatureVerifier(secrets: CLI.allSecrets, tolerance: 300)
        let standard = try StandardWebhooksVerifier(secrets: CLI.allSecrets, tolerance: 300)
        var stamped = 0
        var signed = 0
        for line in lines {
            let record = try object(line)
            let pipeline = try #require(record["pipeline"]?.stringValue)
            #expect(record["sink"]?.stringValue != nil)
            let headerObject = try #require(record["headers"]?.objectValue, "\(line)")
            let headers = Dictionary(uniqueKeysWithValues: headerObject.members.map { ($0.key, $0.value.stringValue ?? "") })
            let bodyText = try #require(record["body"]?.stringValue)
            let body = Array(bodyText.utf8)
            let envelope = try #require(try JSONParser.parse(body).objectValue)
            #expect(envelope.keys == ["id", "event_type", "created_at", "data"])
            let deliveryID = try #require(envelope["id"]?.stringValue)
            #expect(record["delivery_id"]?.stringValue == deliveryID)
            #expect(headers["X-Loyali-Delivery"] == deliveryID)
            #expect(headers["X-Loyali-Event"] == envelope["event_type"]?.stringValue)
            #expect(headers["Content-Type"] == "application/json")
            #expect(headers["User-Agent"] == "loyali-hooks/\(LoyaliHooksVersion.current)")
            #expect(headers["X-Loyali-Attempt"] == "1")
            if envelope["created_at"]?.stringValue == "2023-11-14T22:13:20Z" { stamped += 1 }
            if let signature = headers["X-Loyali-Signature"] {
                signed += 1
                #expect(signature.hasPrefix("t=1700000000,v1="))
                #expect(throws: Never.self, "\(pipeline) \(deliveryID)") {
                    try loyali.verify(header: signature, body: body, now: 1_700_000_000)
                }
            }
            if let signature = headers["webhook-signature"] {
                signed += 1
                #expect(headers["webhook-id"] == deliveryID)
                #expect(headers["webhook-timestamp"] == "1700000000")
                #expect(throws: Never.self, "\(pipeline) \(deliveryID)") {
                    try standard.verify(
                        id: deliveryID, timestamp: "1700000000", signatureHeader: signature, body: body, now: 1_700_000_000)
                }
            }
            if record["sink_type"]?.stringValue == "http" {
                #expect(headers["X-Loyali-Signature"] != nil || headers["webhook-signature"] != nil, "unsigned http delivery")
            }
        }
        // Sample events without created_at are stamped with --timestamp.
        #expect(stamped > 0)
        #expect(signed > 0)
    }

    @Test func humanDryRunOfOnePipeline() throws {
        let result = try CLI.run(["run", "pipelines/notifications.yaml", "--dry-run", "--timestamp", "1700000000"])
        #expect(result.status == 0, "\(result.stderr)")
        try CLI.expectGolden(result.stdoutData, "run-dry-run-notifications.txt")
        #expect(result.stdout.hasPrefix("PIPELINE → SINK (TYPE)"))
        #expect(result.stdout.contains("\nnotifications → push (http)  points.earned "))
        #expect(result.stdout.contains("\n── notifications → push (http) · points.earned · whd_"))
        #expect(result.stdout.contains("\nPOST "))
        #expect(result.stdout.contains("X-Loyali-Signature: t=1700000000,v1="))
        #expect(result.stdout.hasSuffix("across 1 pipeline\n"))
        #expect(result.stderr.isEmpty)
        // --full: every delivery as the one above.
        let full = try CLI.run(["run", "pipelines/notifications.yaml", "--dry-run", "--full", "--timestamp", "1700000000"])
        #expect(full.status == 0, "\(full.stderr)")
        try CLI.expectGolden(full.stdoutData, "run-dry-run-notifications-full.txt")
    }

    @Test func validateReportsEveryErrorOfABadPipeline() throws {
        let result = try CLI.run(["validate", "Tests/Fixtures/cli/broken.yaml"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        try CLI.expectGolden(result.stderrData, "validate-broken.stderr")
        // The undefined secret is a warning in validate; everything else is an error.
        #expect(result.stderr.hasSuffix("7 errors in 1 file\n"))
        #expect(result.stderrLines.filter { $0.hasPrefix("Tests/Fixtures/cli/broken.yaml:") }.count == 8)
        #expect(result.stderr.contains("broken.yaml:13:8: warning: undefined variable 'MISSING_SECRET'"))
        #expect(!result.stderr.contains("whsec_do_not_commit_me"))
    }

    @Test func validateCountsTheFilesWithErrorsNotTheFilesLoaded() throws {
        let directory = try TemporaryDirectory()
        let good = "pipeline: good\nsource: { type: stdin }\nsinks: { out: { type: stdout } }\n"
        try good.write(to: directory.url.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        try good.replacingOccurrences(of: "good", with: "fine").write(
            to: directory.url.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
        try "pipeline: bad\nsource: { type: stdn }\nsinks: { out: { type: stdot } }\n".write(
            to: directory.url.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
        let result = try CLI.run(["validate", directory.url.path])
        #expect(result.status == 2)
        #expect(result.stderrLines.last == "2 errors in 1 file")
        let one = try CLI.run(["validate", directory.url.appendingPathComponent("c.yaml").path, directory.url.appendingPathComponent("nope.yaml").path])
        #expect(one.stderrLines.last == "3 errors in 2 files")
    }

    @Test func eventsListing() throws {
        let result = try CLI.run(["events"])
        #expect(result.status == 0)
        try CLI.expectGolden(result.stdoutData, "events.txt")
        #expect(result.stdoutLines.count == 15 + 1 + 6)
        let lines = result.stdoutLines.filter { !$0.isEmpty && !$0.hasPrefix("Operational") }
        #expect(lines.map { String($0.prefix { $0 != " " }) } == EventCatalogue.names)
        #expect(result.stdoutLines[15].hasPrefix("Operational"))
    }
}

// MARK: - Commands and exit codes

@Suite struct CLICommandTests {
    @Test(arguments: ["validate", "run", "events", "sign", "verify"])
    func helpOnEveryCommand(command: String) throws {
        for arguments in [[command, "--help"], [command, "-h"], ["help", command], [command, "--json", "--help"]] {
            let result = try CLI.run(arguments)
            #expect(result.status == 0, "\(arguments)")
            #expect(result.stdout.hasPrefix("USAGE: loyali-hooks \(command)"), "\(arguments): \(result.stdout)")
            #expect(result.stderr.isEmpty)
        }
    }

    @Test func overviewListsEveryCommand() throws {
        for arguments in [[], ["--help"], ["-h"], ["help"]] {
            let result = try CLI.run(arguments)
            #expect(result.status == 0)
            for command in ["validate", "run", "events", "sign", "verify"] {
                #expect(result.stdout.contains("\n  \(command) "), "\(arguments) lacks \(command)")
            }
            #expect(result.stdout.contains("Exit codes: 0 success, 1 the work had failures, 2 usage or config error."))
        }
    }

    @Test func exitCodes() throws {
        #expect(try CLI.run(["events"]).status == 0)
        #expect(try CLI.run(["validate", "pipelines/"]).status == 0)
        #expect(try CLI.run(["--version"]).stdout == "loyali-hooks/\(LoyaliHooksVersion.current)\n")
        // 1: the work ran and had failures.
        #expect(try CLI.run(["run", fixture("cli/file-sink.yaml"), "--input", fixture("events-malformed.jsonl"), "--dry-run"]).status == 1)
        #expect(try CLI.run(["verify", "--secret", "whsec_x", "--header", "t=1,v1=00", "--now", "1"], stdin: Data("{}".utf8)).status == 1)
        // 2: usage or config errors.
        #expect(try CLI.run(["frobnicate"]).status == 2)
        #expect(try CLI.run(["validate", "Tests/Fixtures/cli/broken.yaml"]).status == 2)
        #expect(try CLI.run(["run", "Tests/Fixtures/cli/broken.yaml", "--dry-run"]).status == 2)
        #expect(try CLI.run(["validate", "no/such/dir"]).status == 2)
        #expect(try CLI.run(["sign"], stdin: Data("{}".utf8)).status == 2)
        #expect(try CLI.run(["run", "pipelines/", "--dry-run", "--timestamp", "soon"]).status == 2)
        // Contradictory run modes.
        let modes = try CLI.run(["run", "pipelines/notifications.yaml", "--once", "--drain"])
        #expect(modes.status == 2)
        #expect(modes.stderr.contains("choose one of --once and --drain"))
    }

    /// A duration past its limit is a usage or config error that names the limit, in every
    /// command and flag that takes one; none of them may trap.
    @Test(arguments: ["99999999999999999999d", "9223372036854775808s", "106751991160d"])
    func durationsPastTheirLimit(value: String) throws {
        let scratch = try TemporaryDirectory()
        let state = scratch.path("state")
        _ = try SQLiteDeliveryStore(directory: state)
        let pipeline = scratch.path("p.yaml")
        try """
            source: { type: stdin }
            sinks: { out: { type: stdout, retry: { schedule: [0s, \(value)], max_retry_after: 1h } } }
            """.write(toFile: pipeline, atomically: true, encoding: .utf8)
        let validate = try CLI.run(["validate", pipeline])
        #expect(validate.status == 2)
        #expect(validate.stderr.contains("p.yaml:2:55: error: retry.schedule item must be at most 365d, not '\(value)'"), "\(validate.stderr)")
        let cases: [(arguments: [String], message: String)] = [
            (["deliveries", "--since", value, "--state", state], "--since must be at most 36500d"),
            (["stats", "--since", value, "--state", state], "--since must be at most 36500d"),
            (["resend", "--failed", "--since", value, "--state", state], "--since must be at most 36500d"),
            (["run", fixture("cli/file-sink.yaml"), "--once", "--grace", value, "--state", state], "--grace must be at most 1d"),
            (["serve", fixture("cli/file-sink.yaml"), "--grace", value, "--state", state, "--admin", "off"], "--grace must be at most 1d"),
            (["serve", fixture("cli/file-sink.yaml"), "--request-timeout", value, "--state", state], "--request-timeout must be at most 1d"),
            (["serve", fixture("cli/file-sink.yaml"), "--idle-timeout", value, "--state", state], "--idle-timeout must be at most 1d"),
            (["listen", "--port", "0", "--delay", value], "--delay must be at most 1d"),
        ]
        for (arguments, message) in cases {
            let result = try CLI.run(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains("\(message), not '\(value)'"), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("runtime failure"), "\(arguments)")
        }
    }

    @Test func unsetSecretIsAWarningInValidateAndAnErrorWhereItIsNeeded() throws {
        let unset = try CLI.run(["validate", "pipelines/notifications.yaml"], unsetting: ["NOTIFY_SECRET"])
        #expect(unset.status == 0)
        #expect(unset.stderr.hasPrefix("pipelines/notifications.yaml:18:14: warning: undefined variable 'NOTIFY_SECRET'"), "\(unset.stderr)")
        #expect(unset.stdout.hasSuffix("1 pipeline OK, 1 warning\n"))
        for arguments in [
            ["validate", "--strict-env", "pipelines/notifications.yaml"],
            ["run", "pipelines/notifications.yaml", "--dry-run"],
            ["test", "pipelines/notifications.yaml", "--event", "points.earned"],
        ] {
            let strict = try CLI.run(arguments, unsetting: ["NOTIFY_SECRET"])
            #expect(strict.status == 2, "\(arguments)")
            #expect(strict.stderr.hasPrefix("pipelines/notifications.yaml:18:14: error: undefined variable 'NOTIFY_SECRET'"), "\(arguments): \(strict.stderr)")
        }
        // An empty variable counts as set; the pipeline then has no active secret.
        let empty = try CLI.run(["validate", "pipelines/notifications.yaml"], environment: ["NOTIFY_SECRET": ""])
        #expect(empty.status == 2)
        #expect(empty.stderr.contains("no active secret"))
    }

    @Test("validate pipelines/ in CI: no secrets set, every undefined one a warning at its place, exit 0")
    func validateWorksWithoutSecrets() throws {
        let result = try CLI.run(["validate", "pipelines/"], unsetting: ["NOTIFY_SECRET", "FULFILLMENT_SECRET", "SYNC_SECRET"])
        #expect(result.status == 0, "\(result.stderr)")
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains(": warning: ") }
        #expect(warnings.map { $0.prefix { $0 != " " } } == [
            "pipelines/fulfillment.yaml:14:14:", "pipelines/notifications.yaml:18:14:", "pipelines/sync.yaml:14:14:",
        ])
        #expect(!result.stderr.contains(": error: "))
        #expect(result.stdout.contains("signed: standard-webhooks, 1 secret"))
        #expect(result.stdout.hasSuffix("5 pipelines OK, 3 warnings\n"))
        let json = try CLI.run(["validate", "--json", "pipelines/"], unsetting: ["NOTIFY_SECRET", "FULFILLMENT_SECRET", "SYNC_SECRET"])
        #expect(json.status == 0)
        #expect(json.stdout.split(separator: "\n").filter { $0.contains(#""severity":"warning""#) }.count == 3)
    }

    @Test func unknownCommandAndOptionSuggest() throws {
        let command = try CLI.run(["valdate"])
        #expect(command.status == 2)
        #expect(command.stderr == "error: unknown command 'valdate'; did you mean 'validate'?\nrun 'loyali-hooks --help' for usage\n")
        #expect(command.stdout.isEmpty)

        let option = try CLI.run(["run", "--dryrun"])
        #expect(option.status == 2)
        #expect(option.stderr.hasPrefix("error: unknown option '--dryrun'; did you mean '--dry-run'?\n"))

        let verify = try CLI.run(["verify", "--secrets", "x"])
        #expect(verify.status == 2)
        #expect(verify.stderr.hasPrefix("error: unknown option '--secrets'; did you mean '--secret'?\n"))

        let far = try CLI.run(["zzzzzz"])
        #expect(far.stderr.hasPrefix("error: unknown command 'zzzzzz'\n"))
    }

    @Test func eventsSample() throws {
        let result = try CLI.run(["events", "sample", "tier.upgraded", "--json"])
        #expect(result.status == 0)
        let line = try #require(result.stdoutLines.first)
        #expect(result.stdoutLines.count == 1)
        let event = try Array(line.utf8).withUnsafeBufferPointer { buffer in
            try InputEventDecoder(ingestTime: "2024-01-01T00:00:00Z").decode(buffer, number: 1)
        }
        #expect(event.eventType == "tier.upgraded")
        let pretty = try CLI.run(["events", "sample", "tier.upgraded"])
        #expect(pretty.stdout.hasPrefix("{\n  \"id\": "))
        let typo = try CLI.run(["events", "sample", "tier.upgrade"])
        #expect(typo.status == 2)
        #expect(typo.stderr.hasPrefix("error: unknown event type 'tier.upgrade'; did you mean 'tier.upgraded'?"))
    }
}

// MARK: - run: bad input, rejects, dry-run side effects, fan-out

@Suite struct CLIRunTests {
    @Test func malformedInputIsReportedAndGoodLinesStillDeliver() throws {
        let result = try CLI.run([
            "run", fixture("cli/file-sink.yaml"), "--input", fixture("events-malformed.jsonl"), "--dry-run", "--json",
            "--timestamp", "1700000000",
        ])
        #expect(result.status == 1)
        #expect(result.stderrLines == malformedFixtureRejections + [
            "dry-run: 14 events read, 10 rejected, 4 deliveries printed, 0 failed across 1 pipeline",
        ])
        let records = try result.stdoutLines.map(object)
        #expect(records.count == 4)
        #expect(records.map { $0["event_type"]?.stringValue ?? "" }
            == ["points.earned", "customer.created", "redemption.created", "achievement.earned"])
        #expect(records.first?["event_id"] == .string("evt_fx0001"))
        #expect(records.last?["event_id"] == .string("evt_fx0015"))
        // Lines 3 and 8 have no created_at: they get the --timestamp time.
        #expect(records[1]["body"]?.stringValue?.contains(#""created_at":"2023-11-14T22:13:20Z""#) == true)
        #expect(records[2]["body"]?.stringValue?.contains(#""created_at":"2023-11-14T22:13:20Z""#) == true)
    }

    @Test func rejectsFileKeepsRawLinesWithReasons() throws {
        let scratch = try TemporaryDirectory()
        let rejects = scratch.path("rejects.jsonl")
        let result = try CLI.run([
            "run", fixture("cli/file-sink.yaml"), "--input", fixture("events-malformed.jsonl"), "--dry-run", "--json",
            "--rejects", rejects,
        ])
        #expect(result.status == 1)
        let lines = try String(contentsOfFile: rejects, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 10)
        let raw = try Data(contentsOf: CLI.fixtures.appendingPathComponent("events-malformed.jsonl"))
            .split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        var numbers: [Int] = []
        for line in lines {
            let record = try object(line)
            let n = try #require(record["line"].flatMap { value -> Int? in
                if case .number(let number) = value { return Int(number.literal) }
                return nil
            })
            numbers.append(n)
            #expect(record["raw"]?.stringValue == raw[n - 1], "line \(n)")
            #expect(record["reason"]?.stringValue?.isEmpty == false)
        }
        #expect(numbers == [2, 4, 5, 7, 9, 10, 11, 12, 13, 14])
        #expect(try object(lines[7])["reason"] == .string("unknown event type 'point.earned'; did you mean 'points.earned'?"))
    }

    @Test func dryRunWritesNoSinkFileButARealRunDoes() throws {
        let cwd = try TemporaryDirectory()
        let arguments = ["run", fixture("cli/file-sink.yaml"), "--input", fixture("cli/fanout-events.jsonl"), "--timestamp", "1700000000"]
        let dry = try CLI.run(arguments + ["--dry-run"], in: cwd.url)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("APPEND logs/archive.jsonl\n"))
        #expect(!FileManager.default.fileExists(atPath: cwd.path("logs")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: cwd.url.path).isEmpty)

        let dryJSON = try CLI.run(arguments + ["--dry-run", "--json"], in: cwd.url)
        #expect(dryJSON.status == 0)
        #expect(!FileManager.default.fileExists(atPath: cwd.path("logs")))

        // Without --dry-run the file sink appends exactly the bodies the dry run showed. The real
        // run keeps its state in the scratch directory and exits once everything is delivered.
        let real = try CLI.run(
            ["run", fixture("cli/file-sink.yaml"), "--input", fixture("cli/fanout-events.jsonl"), "--drain", "--state", cwd.path("state")],
            in: cwd.url)
        #expect(real.status == 0, "\(real.stderr)")
        #expect(real.stdout.isEmpty)
        let written = try String(contentsOfFile: cwd.path("logs/archive.jsonl"), encoding: .utf8)
        let shown = try dryJSON.stdoutLines.map { try #require(try object($0)["body"]?.stringValue) }
        #expect(written == shown.map { $0 + "\n" }.joined())
        #expect(shown.count == 3)
    }

    @Test("--store sqlite:DIR and LOYALI_HOOKS_STORE pick the store; deliveries show names the node of each attempt")
    func storeSelectionAndNodeIDs() throws {
        let cwd = try TemporaryDirectory()
        let run = try CLI.run(
            ["run", fixture("cli/file-sink.yaml"), "--input", fixture("cli/fanout-events.jsonl"), "--drain",
             "--store", "sqlite:" + cwd.path("picked"), "--node-id", "worker-7"],
            in: cwd.url)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: cwd.path("picked/loyali-hooks.db")))
        #expect(!FileManager.default.fileExists(atPath: cwd.path(".loyali-hooks")), "the default state directory stays untouched")
        let listed = try CLI.run(["deliveries", "--json"], in: cwd.url, environment: ["LOYALI_HOOKS_STORE": "sqlite://" + cwd.path("picked")])
        #expect(listed.status == 0, "\(listed.stderr)")
        let id = try #require(try listed.stdoutLines.first.map(object)?["id"]?.stringValue)
        let shown = try CLI.run(["deliveries", "show", id, "--store", "sqlite:" + cwd.path("picked")], in: cwd.url)
        #expect(shown.stdout.contains("(node worker-7)"), "\(shown.stdout)")
        let json = try CLI.run(["deliveries", "show", id, "--json", "--store", "sqlite:" + cwd.path("picked")], in: cwd.url)
        #expect(json.stdout.contains(#""node":"worker-7""#), "\(json.stdout)")
    }

    @Test("store status: engine, where, schema version and counts by status, as text and JSON; read only")
    func storeStatus() throws {
        let cwd = try TemporaryDirectory()
        let missing = try CLI.run(["store", "status", "--state", cwd.path("typo")], in: cwd.url)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("the state directory does not exist"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cwd.path("typo")))
        let run = try CLI.run(
            ["run", fixture("cli/file-sink.yaml"), "--input", fixture("cli/fanout-events.jsonl"), "--drain", "--state", cwd.path("state")],
            in: cwd.url)
        #expect(run.status == 0, "\(run.stderr)")
        let text = try CLI.run(["store", "status", "--state", cwd.path("state")], in: cwd.url)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdoutLines.contains("engine          sqlite"), "\(text.stdout)")
        #expect(text.stdoutLines.contains("schema version  \(SQLiteDeliveryStore.schemaVersion)"), "\(text.stdout)")
        #expect(text.stdoutLines.contains("deliveries      3"), "\(text.stdout)")
        #expect(text.stdoutLines.contains("  succeeded     3"), "\(text.stdout)")
        #expect(text.stdoutLines.contains("  failed        0"), "\(text.stdout)")
        let json = try CLI.run(["store", "status", "--json"], in: cwd.url, environment: ["LOYALI_HOOKS_STORE": "sqlite:" + cwd.path("state")])
        let status = try object(try #require(json.stdoutLines.first))
        #expect(status["engine"]?.stringValue == "sqlite")
        #expect(status["location"]?.stringValue == cwd.path("state") + "/loyali-hooks.db")
        #expect(status["schema_version"] == .number(JSONNumber(Int64(SQLiteDeliveryStore.schemaVersion))))
        #expect(status["total"] == .number(JSONNumber(3)))
        #expect(status["counts"]?.objectValue?["succeeded"] == .number(JSONNumber(3)))
        #expect(status["counts"]?.objectValue?["in_flight"] == .number(JSONNumber(0)))
        let unknown = try CLI.run(["store", "statsu", "--state", cwd.path("state")], in: cwd.url)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown action 'store statsu'"), "\(unknown.stderr)")
    }

    @Test("a store URL that names no engine, or an engine this build lacks, is exit 2, and its password is never printed")
    func badStoreLocations() throws {
        let cwd = try TemporaryDirectory()
        let cases: [([String], [String: String], String)] = [
            (["deliveries", "--store", "mysql://root:hunter2@db/x"], [:], "--store: expected postgres://"),
            (["stats"], ["LOYALI_HOOKS_STORE": "/var/lib/hunter2"], "LOYALI_HOOKS_STORE: expected postgres://"),
            (["run", fixture("cli/file-sink.yaml"), "--drain", "--node-id", "two words"], [:], "--node-id: a node id is printable ASCII without spaces"),
            // Nothing listens on port 1: whether this build has the engine or not, no password shows.
            (["deliveries", "--store", "postgres://loyali:hunter2@127.0.0.1:1/hooks"], [:], "@127.0.0.1:1/hooks"),
        ]
        for (arguments, environment, message) in cases {
            let result = try CLI.run(arguments, in: cwd.url, environment: environment)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("hunter2"), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: cwd.path(".loyali-hooks")))
    }

    @Test func eachSourceIsReadOnceAndFannedOut() throws {
        let result = try CLI.run(["run", "Tests/Fixtures/cli/fanout", "--dry-run", "--json", "--timestamp", "1700000000"])
        #expect(result.status == 0, "\(result.stderr)")
        let records = try result.stdoutLines.map(object)
        let pairs = records.map { "\($0["event_id"]?.stringValue ?? "?")→\($0["pipeline"]?.stringValue ?? "?")" }
        // One pass over the shared file: every event goes to both pipelines before the next is read.
        #expect(pairs == [
            "evt_fan_1→audit", "evt_fan_1→push", "evt_fan_2→audit", "evt_fan_2→push", "evt_fan_3→audit", "evt_fan_3→push",
        ])
        #expect(result.stderr == "dry-run: 3 events read, 0 rejected, 6 deliveries printed, 0 failed across 2 pipelines\n")
        // Each pipeline applies only its own steps.
        #expect(records[0]["body"]?.stringValue?.contains("channel") == false)
        #expect(records[1]["body"]?.stringValue?.contains(#""channel":"push""#) == true)
    }

    @Test func stdinInputFeedsEveryPipeline() throws {
        let sample = try CLI.run(["events", "sample", "points.earned", "--json"])
        let result = try CLI.run(
            ["run", "Tests/Fixtures/cli/fanout", "--input", "-", "--dry-run", "--json", "--timestamp", "1700000000"],
            stdin: sample.stdoutData)
        #expect(result.status == 0, "\(result.stderr)")
        let records = try result.stdoutLines.map(object)
        #expect(records.map { $0["pipeline"]?.stringValue ?? "" } == ["audit", "push"])
        #expect(records.allSatisfy { $0["event_id"] == .string("evt_sample_points_earned") })
    }

    @Test func sharedSourceFormsOneGroup() throws {
        let result = PipelineLoader(environment: CLI.environment, registry: .builtIn)
            .load(paths: [CLI.fixtures.appendingPathComponent("cli/fanout").path])
        #expect(!result.hasErrors, "\(result.diagnostics.map(\.description))")
        let runner = PipelineRunner(
            pipelines: result.pipelines, options: PipelineRunner.Options(), output: OutputBuffer(descriptor: -1)) { _ in }
        let groups = runner.sourceGroups()
        #expect(groups.count == 1)
        #expect(groups.first?.identity == "file:Tests/Fixtures/cli/fanout-events.jsonl")
        #expect(groups.first?.pipelines.map(\.name) == ["audit", "push"])
    }

    @Test func dryRunBatchesAreCutByOutputBytesWithTheSameOutput() throws {
        let result = PipelineLoader(environment: CLI.environment, registry: .builtIn)
            .load(paths: [CLI.fixtures.appendingPathComponent("cli/fanout").path])
        #expect(!result.hasErrors, "\(result.diagnostics.map(\.description))")
        let scratch = try TemporaryDirectory()
        let sample = try CLI.run(["events", "sample", "points.earned", "--json"]).stdoutData
        let events = Data((0..<300).map { _ in sample }.joined())
        try events.write(to: scratch.url.appendingPathComponent("events.jsonl"))
        func dryRun(budget: Int) throws -> (Data, PipelineRunner) {
            var options = PipelineRunner.Options()
            options.format = .json
            options.timestamp = 1_700_000_000
            options.batchOutputBytes = budget
            options.workers = 2
            options.input = try InputStream.open(path: scratch.path("events.jsonl"))
            let path = scratch.path("out-\(budget)")
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            defer { close(fd) }
            let runner = PipelineRunner(pipelines: result.pipelines, options: options, output: OutputBuffer(descriptor: fd)) { _ in }
            let summary = runner.run()
            #expect(summary.delivered == 600)
            return (try Data(contentsOf: URL(fileURLWithPath: path)), runner)
        }
        let (small, smallRunner) = try dryRun(budget: 4096)
        let (large, largeRunner) = try dryRun(budget: 64 << 20)
        // Two deliveries of about a kilobyte each per line: a 4 KiB budget is two lines or so,
        // where the line cap alone would allow 2,048.
        #expect(smallRunner.nextBatchLines() <= 4)
        #expect(largeRunner.nextBatchLines() == 2_048)
        // What batches held at once stays near the workers × the budget (4 × 4 KiB here) plus
        // a line, whatever the fan-out; the first batch, sized blind, is one line.
        #expect(smallRunner.peakBatchBytes <= 4 * 4096 + 4096, "\(smallRunner.peakBatchBytes) bytes held at once")
        #expect(small == large)
        #expect(small.count > 300 * 2 * 500)
    }
}

// MARK: - sign and verify

@Suite struct CLISignVerifyTests {
    static let body = Data(#"{"id":"evt_1","type":"points.earned"}"#.utf8)
    static let header = "t=1700000000,v1=ded43d6c602be5365860cda1f1a18bffa27e33951b32b3741d803ce6b6091d8b"

    @Test func signStripeVector() throws {
        let fromStdin = try CLI.run(["sign", "--timestamp", "1700000000", "--secret", "whsec_test_secret"], stdin: Self.body)
        #expect(fromStdin.status == 0)
        #expect(fromStdin.stdout == "X-Loyali-Signature: \(Self.header)\n")

        let scratch = try TemporaryDirectory()
        try Self.body.write(to: scratch.url.appendingPathComponent("body.json"))
        let fromFile = try CLI.run(["sign", "--secret", "whsec_test_secret", "--timestamp", "1700000000", scratch.path("body.json")])
        #expect(fromFile.stdout == fromStdin.stdout)

        let fromEnv = try CLI.run(
            ["sign", "--secret-env", "MY_SECRET", "--timestamp", "1700000000", "-"], stdin: Self.body,
            environment: ["MY_SECRET": "whsec_test_secret"])
        #expect(fromEnv.stdout == fromStdin.stdout)
    }

    @Test func signWithTwoSecretsGivesTwoV1() throws {
        let result = try CLI.run(
            ["sign", "--secret", "whsec_new", "--secret", "whsec_test_secret", "--timestamp", "1700000000"], stdin: Self.body)
        let value = try #require(result.stdout.split(separator: " ").last).trimmingCharacters(in: .newlines)
        #expect(value.hasPrefix("t=1700000000,v1="))
        #expect(value.hasSuffix(",v1=ded43d6c602be5365860cda1f1a18bffa27e33951b32b3741d803ce6b6091d8b"))
        #expect(value.components(separatedBy: ",v1=").count == 3)
    }

    @Test func signStandardWebhooksVector() throws {
        let result = try CLI.run(
            [
                "sign", "--scheme", "standard-webhooks", "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "--timestamp", "1614265330", "--id", "msg_p5jXN8AQM9LWM0D4loKWxJek",
            ], stdin: Data(#"{"test": 2432232314}"#.utf8))
        #expect(result.status == 0)
        #expect(result.stdoutLines.contains("webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="))
        #expect(result.stdoutLines.contains("webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek"))
        #expect(result.stdoutLines.contains("webhook-timestamp: 1614265330"))
    }

    @Test func verifySucceeds() throws {
        let result = try CLI.run(
            ["verify", "--secret", "whsec_test_secret", "--header", Self.header, "--now", "1700000100"], stdin: Self.body)
        #expect(result.status == 0)
        #expect(result.stdout == "valid: signature matches\n")
        // Rotation: any secret may match.
        let rotated = try CLI.run(
            ["verify", "--secret", "whsec_other", "--secret", "whsec_test_secret", "--header", Self.header, "--now", "1700000000"],
            stdin: Self.body)
        #expect(rotated.status == 0)
        // Any v1 may match.
        let extra = try CLI.run(
            ["verify", "--secret", "whsec_test_secret", "--header", "t=1700000000,v1=\(String(repeating: "0", count: 64)),"
                + Self.header.dropFirst("t=1700000000,".count), "--now", "1700000000"], stdin: Self.body)
        #expect(extra.status == 0, "\(extra.stderr)")
        // Tolerance 0 disables the age check.
        let old = try CLI.run(
            ["verify", "--secret", "whsec_test_secret", "--header", Self.header, "--tolerance", "0", "--now", "1800000000"],
            stdin: Self.body)
        #expect(old.status == 0)
    }

    @Test(arguments: [
        ("garbage", "1700000000", "invalid: malformed signature header: element 'garbage' is not key=value"),
        ("", "1700000000", "invalid: malformed signature header: header is empty"),
        ("t=abc,v1=00", "1700000000", "invalid: malformed signature header: timestamp 'abc' is not an integer"),
        ("t=1700000000", "1700000000", "invalid: header has no v1 signature"),
        ("t=1700000000,v0=abc", "1700000000", "invalid: header has no v1 signature"),
        ("v1=ded43d6c602be5365860cda1f1a18bffa27e33951b32b3741d803ce6b6091d8b", "1700000000", "invalid: header has no timestamp"),
        ("t=1700000001,v1=ded43d6c602be5365860cda1f1a18bffa27e33951b32b3741d803ce6b6091d8b", "1700000000",
         "invalid: no v1 signature matches the expected signature for the given secret(s)"),
        ("t=1700000000,v1=ded43d6c602be5365860cda1f1a18bffa27e33951b32b3741d803ce6b6091d8b", "1700000301",
         "invalid: timestamp is 301 s old, outside the 300 s tolerance"),
        ("t=1700000000,v1=ded43d6c602be5365860cda1f1a18bffa27e33951b32b3741d803ce6b6091d8b", "1699999000",
         "invalid: timestamp is 1000 s in the future, outside the 300 s tolerance"),
    ])
    func verifyFailures(header: String, now: String, message: String) throws {
        let result = try CLI.run(["verify", "--secret", "whsec_test_secret", "--header", header, "--now", now], stdin: Self.body)
        #expect(result.status == 1)
        #expect(result.stderr == message + "\n")
        #expect(result.stdout.isEmpty)
    }

    @Test func verifyRejectsAChangedBody() throws {
        let result = try CLI.run(
            ["verify", "--secret", "whsec_test_secret", "--header", Self.header, "--now", "1700000000"],
            stdin: Data(#"{"id":"evt_1","type":"points.earned"} "#.utf8))
        #expect(result.status == 1)
        #expect(result.stderr == "invalid: no v1 signature matches the expected signature for the given secret(s)\n")
    }

    @Test func signOutputIsAcceptedByVerifyAsPrinted() throws {
        let signed = try CLI.run(["sign", "--secret", "whsec_test_secret", "--timestamp", "1700000000"], stdin: Self.body)
        #expect(signed.status == 0)
        let line = signed.stdout.trimmingCharacters(in: .newlines)
        #expect(line == "X-Loyali-Signature: \(Self.header)")
        for header in [signed.stdout, line, "x-loyali-signature: \(Self.header)",
                       "x-loyali-signature:\(Self.header)", Self.header] {
            let result = try CLI.run(["verify", "--secret", "whsec_test_secret", "--header", header, "--now", "1700000000"], stdin: Self.body)
            #expect(result.status == 0, "\(header): \(result.stderr)")
        }
        // A wrong secret is still a verdict (exit 1), not a usage error.
        let wrong = try CLI.run(["verify", "--secret", "whsec_other", "--header", signed.stdout, "--now", "1700000000"], stdin: Self.body)
        #expect(wrong.status == 1)
        #expect(wrong.stderr == "invalid: no v1 signature matches the expected signature for the given secret(s)\n")
    }

    @Test func standardWebhooksSignOutputIsAcceptedByVerifyAsPrinted() throws {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let signed = try CLI.run(
            ["sign", "--scheme", "standard-webhooks", "--secret", secret, "--timestamp", "1614265330", "--id", "msg_p5jXN8AQM9LWM0D4loKWxJek"],
            stdin: Self.body)
        #expect(signed.status == 0)
        #expect(signed.stdoutLines.count == 3)
        // All three lines: the scheme, id and timestamp come from them.
        let all = try CLI.run(["verify", "--secret", secret, "--header", signed.stdout, "--now", "1614265330"], stdin: Self.body)
        #expect(all.status == 0, "\(all.stderr)")
        // The signature line alone, with --id and --timestamp.
        let signatureLine = try #require(signed.stdoutLines.first { $0.hasPrefix("webhook-signature: ") })
        let one = try CLI.run(
            ["verify", "--scheme", "standard-webhooks", "--secret", secret, "--header", signatureLine, "--id", "msg_p5jXN8AQM9LWM0D4loKWxJek",
             "--timestamp", "1614265330", "--now", "1614265330"], stdin: Self.body)
        #expect(one.status == 0, "\(one.stderr)")
        // An --id that contradicts the pasted line is a usage error.
        let contradiction = try CLI.run(
            ["verify", "--secret", secret, "--header", signed.stdout, "--id", "msg_other", "--now", "1614265330"], stdin: Self.body)
        #expect(contradiction.status == 2)
        #expect(contradiction.stderr.contains("--id 'msg_other' disagrees with the webhook-id line"))
        // A standard-webhooks line given to the loyali scheme says so.
        let mismatch = try CLI.run(
            ["verify", "--scheme", "loyali", "--secret", secret, "--header", signatureLine, "--now", "1614265330"], stdin: Self.body)
        #expect(mismatch.status == 2)
        #expect(mismatch.stderr.contains("webhook-signature line, which is not a loyali signature"))
    }

    @Test func emptySecretsAreRefused() throws {
        for command in [["verify", "--header", Self.header, "--now", "1700000000"], ["sign"]] {
            let literal = try CLI.run(command + ["--secret", ""], stdin: Self.body)
            #expect(literal.status == 2, "\(command)")
            #expect(literal.stderr.hasPrefix("error: --secret must not be empty\n"))
            // An empty secret next to a good one is still refused.
            let mixed = try CLI.run(command + ["--secret", "whsec_test_secret", "--secret", ""], stdin: Self.body)
            #expect(mixed.status == 2)
            let variable = try CLI.run(command + ["--secret-env", "EMPTY_SECRET"], stdin: Self.body, environment: ["EMPTY_SECRET": ""])
            #expect(variable.status == 2)
            #expect(variable.stderr.hasPrefix("error: --secret-env EMPTY_SECRET: the variable is unset or empty\n"))
        }
    }

    @Test(arguments: ["-5", "-1", "253402300800", "99999999999999999999", "1e9", ""])
    func timestampsVerifyCouldNotAcceptAreRefused(timestamp: String) throws {
        let sign = try CLI.run(["sign", "--secret", "whsec_test_secret", "--timestamp", timestamp], stdin: Self.body)
        #expect(sign.status == 2)
        #expect(sign.stdout.isEmpty)
        #expect(sign.stderr.hasPrefix("error: --timestamp must be unix seconds from 0 to 253402300799 (year 9999), not '\(timestamp)'\n"))
        let verify = try CLI.run(["verify", "--secret", "whsec_test_secret", "--header", Self.header, "--now", timestamp], stdin: Self.body)
        #expect(verify.status == 2)
        let dryRun = try CLI.run(["run", "pipelines/notifications.yaml", "--dry-run", "--timestamp", timestamp])
        #expect(dryRun.status == 2)
        #expect(dryRun.stdout.isEmpty)
    }

    @Test func signAtTheEdgesOfTheTimestampRangeVerifies() throws {
        for timestamp in ["0", "253402300799"] {
            let signed = try CLI.run(["sign", "--secret", "whsec_test_secret", "--timestamp", timestamp], stdin: Self.body)
            #expect(signed.status == 0)
            let verified = try CLI.run(
                ["verify", "--secret", "whsec_test_secret", "--header", signed.stdout, "--now", timestamp], stdin: Self.body)
            #expect(verified.status == 0, "\(timestamp): \(verified.stderr)")
        }
    }

    @Test func verifyUsageErrors() throws {
        #expect(try CLI.run(["verify", "--secret", "s"], stdin: Self.body).status == 2)
        #expect(try CLI.run(["verify", "--header", Self.header], stdin: Self.body).status == 2)
        #expect(try CLI.run(["verify", "--secret", "s", "--header", "h", "--tolerance", "-5"], stdin: Self.body).status == 2)
    }
}

// MARK: - Privacy

@Suite struct CLIPrivacyTests {
    static let secrets = ["URL_TOKEN": "tok_url_5b1d9e", "AUTH_TOKEN": "tok_auth_77c3a0", "HOOK_SECRET": "whsec_privacy_test_1"]

    /// A pipeline whose sink URL and header take tokens from the environment; the URL's port is
    /// closed, so `test` fails with curl's error.
    static func directory() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.path("pipelines"), withIntermediateDirectories: true)
        try Data("""
            pipeline: leaky
            source: { type: stdin }
            sign: { secrets: ["${HOOK_SECRET}"] }
            sinks:
              hook:
                type: http
                url: "http://127.0.0.1:9/in?token=${URL_TOKEN}"
                headers: { Authorization: "Bearer ${AUTH_TOKEN}" }

            """.utf8).write(to: URL(fileURLWithPath: directory.path("pipelines/leaky.yaml")))
        return directory
    }

    @Test("validate, dry runs and test show the sink URL as written and never a variable's value")
    func urlVariablesNeverShown() throws {
        let directory = try Self.directory()
        let event = Data(#"{"event_type":"points.earned","data":{"customer_id":"c1"}}"#.utf8 + [0x0A])
        let runs: [[String]] = [
            ["validate", "pipelines"],
            ["validate", "pipelines", "--json"],
            ["run", "pipelines/leaky.yaml", "--dry-run"],
            ["run", "pipelines/leaky.yaml", "--dry-run", "--json"],
            ["test", "leaky", "--event", "points.earned"],
            ["test", "leaky", "--event", "points.earned", "--json"],
        ]
        for arguments in runs {
            let result = try CLI.run(arguments, stdin: event, in: directory.url, environment: Self.secrets)
            let output = result.stdout + result.stderr
            for value in Self.secrets.values {
                #expect(!output.contains(value), "\(arguments) printed \(value): \(output)")
            }
            #expect(output.contains("http://127.0.0.1:9/in?token=${URL_TOKEN}"), "\(arguments): \(output)")
        }
    }
}
