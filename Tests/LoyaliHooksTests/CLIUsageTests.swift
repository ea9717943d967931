import Foundation
import Testing

@testable import LoyaliHooks

// What a new user meets first: the human dry-run, the flags of `run`, usage hints and `test`.
// Runs the built binary like CLITests.swift (see there for how it is found).

/// One delivery printed in full by the human dry-run: its headers and the body line under them.
private struct PrintedDelivery {
    var title: String
    var headers: [String: String]
    var body: [UInt8]

    /// Every full delivery in `stdout`: a `── ` title, the request line, headers, a blank line,
    /// then the body on one line.
    static func all(in stdout: String) -> [PrintedDelivery] {
        let lines = stdout.components(separatedBy: "\n")
        var found: [PrintedDelivery] = []
        var index = 0
        while index < lines.count {
            defer { index += 1 }
            // A title names a route and carries a delivery id; request lines follow it.
            guard lines[index].hasPrefix("── "), lines[index].contains(" · whd_"), index + 1 < lines.count else { continue }
            var headers: [String: String] = [:]
            var cursor = index + 2
            while cursor < lines.count, !lines[cursor].isEmpty {
                if let colon = lines[cursor].range(of: ": ") {
                    headers[String(lines[cursor][..<colon.lowerBound])] = String(lines[cursor][colon.upperBound...])
                }
                cursor += 1
            }
            guard cursor + 1 < lines.count else { break }
            found.append(PrintedDelivery(title: lines[index], headers: headers, body: Array(lines[cursor + 1].utf8)))
            index = cursor + 1
        }
        return found
    }
}

@Suite struct CLIDryRunOutputTests {
    static let timestamp = ["--timestamp", "1700000000"]

    /// Checks the signature headers of `delivery` against its printed body; returns whether it was signed.
    private func verifySignature(of delivery: PrintedDelivery) throws -> Bool {
        if let signature = delivery.headers["X-Loyali-Signature"] {
            try LoyaliSignatureVerifier(secrets: CLI.allSecrets).verify(header: signature, body: delivery.body, now: 1_700_000_000)
            return true
        }
        if let signature = delivery.headers["webhook-signature"] {
            try StandardWebhooksVerifier(secrets: CLI.allSecrets).verify(
                id: delivery.headers["webhook-id"] ?? "", timestamp: delivery.headers["webhook-timestamp"] ?? "",
                signatureHeader: signature, body: delivery.body, now: 1_700_000_000)
            return true
        }
        return false
    }

    @Test func humanDryRunIsALinePerDeliveryOneInFullAndTheSummary() throws {
        let human = try CLI.run(["run", "pipelines/", "--dry-run"] + Self.timestamp)
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stderr.isEmpty)
        let json = try CLI.run(["run", "pipelines/", "--dry-run", "--json"] + Self.timestamp)
        let deliveries = json.stdoutLines.count
        #expect(deliveries > 10)
        let lines = human.stdout.components(separatedBy: "\n")
        // Column titles, a line per delivery, then one delivery in full and the summary.
        #expect(lines[0].hasPrefix("PIPELINE → SINK (TYPE)"))
        let short = lines.filter { $0.contains("  whd_") && $0.hasSuffix(" bytes") }
        #expect(short.count == deliveries)
        #expect(short.allSatisfy { $0.count < 110 })
        let full = PrintedDelivery.all(in: human.stdout)
        #expect(full.count == 1)
        #expect(try full.first.map(verifySignature) == true, "the delivery in full is a signed http one")
        #expect(human.stdout.hasSuffix("\ndry-run: 34 events read, 0 rejected, \(deliveries) deliveries printed, 0 failed across 5 pipelines\n"))
        // One screen and a bit: nothing like a pretty-printed body per delivery.
        #expect(lines.count < deliveries + 25)
    }

    @Test func fullDryRunPrintsTheExactBytesThatVerify() throws {
        let result = try CLI.run(["run", "pipelines/", "--dry-run", "--full"] + Self.timestamp)
        #expect(result.status == 0, "\(result.stderr)")
        let json = try CLI.run(["run", "pipelines/", "--dry-run", "--json"] + Self.timestamp)
        let bodies = try json.stdoutLines.map { try #require(try JSONParser.parse($0).objectValue?["body"]?.stringValue) }
        let printed = PrintedDelivery.all(in: result.stdout)
        #expect(printed.count == bodies.count)
        // The same bytes as --json's "body", and every signature verifies against them.
        #expect(printed.map { String(decoding: $0.body, as: UTF8.self) } == bodies)
        var signed = 0
        for delivery in printed where try verifySignature(of: delivery) { signed += 1 }
        #expect(signed > 0)
    }

    @Test func prettyBodiesSayTheyAreNotTheSignedBytes() throws {
        let result = try CLI.run(["run", "pipelines/notifications.yaml", "--dry-run", "--full", "--pretty"] + Self.timestamp)
        #expect(result.status == 0, "\(result.stderr)")
        let labels = result.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("(body pretty-printed for reading: NOT the ") }
        #expect(labels.count == PrintedDelivery.all(in: result.stdout).count)
        #expect(result.stdout.contains("{\n  \"id\": \"whd_"))
    }

    @Test func jsonKeepsTheSummaryOnStderrAndLogFormatJSONIsHonoured() throws {
        let arguments = ["run", "Tests/Fixtures/cli/file-sink.yaml", "--input", "Tests/Fixtures/events-malformed.jsonl", "--dry-run", "--json",
                         "--timestamp", "1700000000"]
        let plain = try CLI.run(arguments)
        #expect(plain.status == 1)
        #expect(plain.stderrLines.last == "dry-run: 14 events read, 10 rejected, 4 deliveries printed, 0 failed across 1 pipeline")
        let logged = try CLI.run(arguments + ["--log-format", "json"])
        #expect(logged.status == 1)
        #expect(logged.stdout == plain.stdout)
        let records = try logged.stderrLines.map { try #require(try JSONParser.parse($0).objectValue, "\($0)") }
        #expect(records.count == 11)
        #expect(records.dropLast().allSatisfy { $0["level"] == .string("warn") && $0["msg"]?.stringValue?.hasPrefix("input:") == true })
        #expect(records.last?["msg"] == .string("dry-run finished"))
        #expect(records.last?["rejected"] == .string("10"))
    }
}

@Suite struct CLIRunFlagTests {
    @Test(arguments: [
        (["--dry-run", "--grace", "1x"], "--grace must be a duration such as 10s, not '1x'"),
        (["--dry-run", "--log-format", "xml"], "--log-format must be logfmt or json, not 'xml'"),
        (["--grace", "1x", "--once"], "--grace must be a duration such as 10s, not '1x'"),
        (["--log-format", "xml", "--once"], "--log-format must be logfmt or json, not 'xml'"),
        (["--dry-run", "--once"], "--once applies to a real run, not to --dry-run"),
        (["--dry-run", "--grace", "5s"], "--grace applies to a real run, not to --dry-run"),
        (["--dry-run", "--json", "--pretty"], "--pretty shapes the human output; --json always prints every delivery with its exact body"),
        (["--full", "--once"], "--full applies to --dry-run only"),
        (["--dry-run", "--max-connections", "10"], "--max-connections applies to a real run, not to --dry-run"),
        (["--once", "--max-connections", "0"], "--max-connections must be a whole number from 1 to 10000000, not '0'"),
        (["--once", "--max-connections-per-host", "x"], "--max-connections-per-host must be a whole number from 1 to 10000000, not 'x'"),
    ])
    func badFlagsAreUsageErrorsInEveryMode(flags: [String], message: String) throws {
        let scratch = try TemporaryDirectory()
        let state = flags.contains("--dry-run") ? [] : ["--state", scratch.path("state")]
        let result = try CLI.run(["run", "pipelines/notifications.yaml"] + state + flags)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "error: \(message)\nrun 'loyali-hooks run --help' for usage\n")
        #expect(!FileManager.default.fileExists(atPath: scratch.path("state")), "nothing starts on a usage error")
    }

    @Test(arguments: [
        (["resend", "whd_x", "--since", "1x"], "--since must be a duration such as 30m, 1h or 7d, not '1x'", "resend"),
        (["resend", "whd_x", "--pipeline", "fulfillment"], "--pipeline applies to 'resend --failed'; WHD_IDs are resent as given", "resend"),
        (["resend", "--failed", "--since", "1x"], "--since must be a duration such as 30m, 1h or 7d, not '1x'", "resend"),
        (["deliveries", "show", "whd_x", "--limit", "5"], "--limit filters the list; 'deliveries show' takes only WHD_ID, --json, --state and --store", "deliveries"),
        (["deliveries", "show", "whd_x", "--status", "failed"], "--status filters the list; 'deliveries show' takes only WHD_ID, --json, --state and --store", "deliveries"),
    ])
    func filtersAreCheckedInEveryModeOfTheLogCommands(arguments: [String], message: String, command: String) throws {
        let scratch = try TemporaryDirectory()
        let result = try CLI.run(arguments + ["--state", scratch.path("state")])
        #expect(result.status == 2)
        #expect(result.stderr == "error: \(message)\nrun 'loyali-hooks \(command) --help' for usage\n")
    }

    @Test func usageHintsPointAtTheCommandsHelp() throws {
        let option = try CLI.run(["run", "--dryrun"])
        #expect(option.stderr == "error: unknown option '--dryrun'; did you mean '--dry-run'?\nrun 'loyali-hooks run --help' for usage\n")
        let verify = try CLI.run(["verify", "--secret", "s"], stdin: Data())
        #expect(verify.stderrLines.last == "run 'loyali-hooks verify --help' for usage")
        let command = try CLI.run(["valdate"])
        #expect(command.stderrLines.last == "run 'loyali-hooks --help' for usage")
    }

    @Test func validateWarnsWhenTheSinksCanNeedMoreConnectionsThanTheLimits() throws {
        let scratch = try TemporaryDirectory()
        // Three sinks of 32 in flight at three destinations: up to 96 connections.
        for (index, port) in [9101, 9102, 9103].enumerated() {
            try """
                pipeline: p\(index)
                source: { type: file, path: events.jsonl }
                sign: { scheme: standard-webhooks, secrets: ["${SECRET}"] }
                sinks:
                  out: { type: http, url: "http://127.0.0.1:\(port)/hook" }
                """.write(to: scratch.url.appendingPathComponent("p\(index).yaml"), atomically: true, encoding: .utf8)
        }
        let environment = ["SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
        let capped = try CLI.run(["validate", ".", "--max-connections", "40"], in: scratch.url, environment: environment)
        #expect(capped.status == 0, "\(capped.stderr)")
        #expect(capped.stderr.contains(
            "warning: the http sinks can use up to 96 connections at once; at most 40 will be open (--max-connections)"))
        // The per-host cap counts across sinks: 3 × min(32, 8) = 24 fits under 40.
        let perHost = try CLI.run(
            ["validate", "."], in: scratch.url,
            environment: environment.merging(["LOYALI_HOOKS_MAX_CONNECTIONS": "40", "LOYALI_HOOKS_MAX_CONNECTIONS_PER_HOST": "8"]) { $1 })
        #expect(perHost.status == 0, "\(perHost.stderr)")
        #expect(!perHost.stderr.contains("warning"), "\(perHost.stderr)")
        let fits = try CLI.run(["validate", "."], in: scratch.url, environment: environment)
        #expect(!fits.stderr.contains("warning"), "\(fits.stderr)")
    }

    @Test func anHTTPSourceIsForServeNotRun() throws {
        let scratch = try TemporaryDirectory()
        try """
            pipeline: ingest
            source: { type: http, listen: "127.0.0.1:8787", token: "${INGEST_TOKEN}" }
            sinks:
              audit: { type: file, path: out/audit.jsonl }
            """.write(to: scratch.url.appendingPathComponent("ingest.yaml"), atomically: true, encoding: .utf8)
        let environment = ["INGEST_TOKEN": "t0ken-for-the-test"]
        for mode in [["--once"], ["--drain"], ["--dry-run"]] {
            let state = mode == ["--dry-run"] ? [] : ["--state", scratch.path("state")]
            let result = try CLI.run(["run", "ingest.yaml"] + state + mode, in: scratch.url, environment: environment)
            #expect(result.status == 2, "\(mode): \(result.stderr)")
            #expect(result.stderr.contains("pipeline 'ingest' (ingest.yaml) has an http source: 'loyali-hooks serve' receives it"), "\(mode)")
            #expect(!result.stderr.contains("source failed"))
        }
        // With --input, run reads the events from the file instead.
        let events = scratch.path("events.jsonl")
        try #"{"event_type":"points.earned","data":{"customer_id":"c1"}}"#.appending("\n").write(toFile: events, atomically: true, encoding: .utf8)
        let fed = try CLI.run(["run", "ingest.yaml", "--input", events, "--dry-run", "--json"], in: scratch.url, environment: environment)
        #expect(fed.status == 0, "\(fed.stderr)")
        #expect(fed.stdoutLines.count == 1)
    }
}

@Suite("test PIPELINE", .serialized) struct CLITestCommandTests {
    static let secret = "whsec_test_command_secret"

    /// A folder with the pipeline under test (an http sink on `port` and a file sink) and a
    /// second pipeline whose secret is unset.
    static func workspace(port: Int) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        try FileManager.default.createDirectory(at: directory.url.appendingPathComponent("pipelines"), withIntermediateDirectories: true)
        try """
            pipeline: rewards
            source: { type: stdin }
            filter: { events: [points.earned, tier.upgraded] }
            sign: { secrets: ["${REWARDS_SECRET}"] }
            sinks:
              hook: { type: http, url: "http://127.0.0.1:\(port)/hook" }
              archive: { type: file, path: out/archive.jsonl }
            """.write(to: directory.url.appendingPathComponent("pipelines/rewards-file.yaml"), atomically: true, encoding: .utf8)
        try """
            source: { type: stdin }
            sign: { secrets: ["${OTHER_SECRET_NOT_SET}"] }
            sinks:
              other: { type: http, url: "http://127.0.0.1:\(port)/other" }
            """.write(to: directory.url.appendingPathComponent("pipelines/other.yaml"), atomically: true, encoding: .utf8)
        try """
            source: { type: stdin }
            sinks:
              archive: { type: file, path: out/local.jsonl }
            """.write(to: directory.url.appendingPathComponent("pipelines/local.yaml"), atomically: true, encoding: .utf8)
        return directory
    }

    static func test(_ arguments: [String], in directory: TemporaryDirectory) throws -> CLIResult {
        try CLI.run(["test"] + arguments, in: directory.url, environment: ["REWARDS_SECRET": secret])
    }

    @Test func sendsOnlyToHTTPSinksOfTheNamedPipelineDespiteOthersErrors() throws {
        let scratch = try TemporaryDirectory()
        let receiver = try VerifyingReceiver(secret: Self.secret, directory: scratch.url)
        let directory = try Self.workspace(port: receiver.port)
        let result = try Self.test(["rewards", "--event", "points.earned"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "other pipelines' missing secrets are not reported")
        #expect(result.stdoutLines.filter { $0.hasPrefix("✅") || $0.hasPrefix("❌") }.count == 1)
        #expect(result.stdout.hasPrefix("✅ hook (http "))
        #expect(receiver.requests.count == 1)
        #expect(receiver.requests.allSatisfy { $0.signed && $0.attempt == 1 })
        #expect(!FileManager.default.fileExists(atPath: directory.path("out")), "file sinks are left alone")
        #expect(!FileManager.default.fileExists(atPath: directory.path(".loyali-hooks")), "nothing goes to the delivery log")

        // A file path works like a name, and --sink picks the file sink alone.
        let file = try Self.test(["pipelines/rewards-file.yaml", "--event", "tier.upgraded", "--sink", "archive"], in: directory)
        #expect(file.status == 0, "\(file.stderr)")
        #expect(file.stdout.hasPrefix("✅ archive (file out/archive.jsonl) "))
        #expect(receiver.requests.count == 1, "the http sink was not chosen")
        let written = try String(contentsOfFile: directory.path("out/archive.jsonl"), encoding: .utf8)
        #expect(written.split(separator: "\n").count == 1)
    }

    @Test func usageErrorsExitTwo() throws {
        let directory = try Self.workspace(port: 9)
        let unsubscribed = try Self.test(["rewards", "--event", "redemption.created"], in: directory)
        #expect(unsubscribed.status == 2)
        #expect(unsubscribed.stderr.hasPrefix(
            "error: pipeline 'rewards' does not subscribe to redemption.created; it subscribes to: points.earned, tier.upgraded\n"))
        #expect(unsubscribed.stderrLines.last == "run 'loyali-hooks test --help' for usage")

        let unknownSink = try Self.test(["rewards", "--event", "points.earned", "--sink", "hok"], in: directory)
        #expect(unknownSink.status == 2)
        #expect(unknownSink.stderr.hasPrefix("error: pipeline 'rewards' has no sink 'hok'; did you mean 'hook'?"))

        let onlyFiles = try Self.test(["local", "--event", "points.earned"], in: directory)
        #expect(onlyFiles.status == 2)
        #expect(onlyFiles.stderr.contains("has no http or plugin sink to test"))
        #expect(!FileManager.default.fileExists(atPath: directory.path("out")))

        let typo = try Self.test(["reward", "--event", "points.earned"], in: directory)
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("no pipeline 'reward'; did you mean 'rewards'?"))
        #expect(typo.stderr.contains("pipelines/other.yaml"), "the files that could not be loaded are named")

        // A folder is where names are looked up, not a pipeline.
        let folder = try Self.test(["pipelines/", "--event", "points.earned"], in: directory)
        #expect(folder.status == 2)
        #expect(folder.stderr.hasPrefix("error: 'pipelines/' is a folder; give a pipeline name"))
        #expect(folder.stdout.isEmpty)

        // The named pipeline's own problems are reported as config errors.
        let own = try Self.test(["other", "--event", "points.earned"], in: directory)
        #expect(own.status == 2)
        #expect(own.stderr.contains("undefined variable 'OTHER_SECRET_NOT_SET'"))
    }
}

@Suite struct ShippedExampleTests {
    /// The bundled pipelines as a new user loads them: the demo secrets, no URL variables.
    static func load(_ extra: [String: String] = [:]) throws -> [PipelineDefinition] {
        let result = PipelineLoader(environment: CLI.environment.merging(extra) { $1 })
            .load(paths: [CLI.packageRoot.appendingPathComponent("pipelines").path])
        #expect(!result.hasErrors, "\(result.diagnostics.map(\.description))")
        return result.pipelines
    }

    @Test func webhookSinksPostToListenAndRetryWithinAMinute() throws {
        let sinks = try Self.load().flatMap(\.sinks).filter { $0.sink is HTTPSink }
        #expect(sinks.count == 3)
        for definition in sinks {
            let url = try #require((definition.sink as? HTTPSink)?.url)
            // `loyali-hooks listen`'s defaults: the examples run end to end as shipped.
            #expect(url.scheme == "http" && url.host == "127.0.0.1" && url.port == 8080, "\(definition.name): \(url)")
            let schedule = definition.retry.schedule
            #expect(schedule.count >= 2, "\(definition.name)")
            // The first retry, jitter included, lands within a minute: the README's journey shows it.
            if schedule.count >= 2 {
                #expect(Double(schedule[1].totalMilliseconds) * (1 + definition.retry.jitter) < 60_000, "\(definition.name)")
            }
        }
    }

    @Test func deploymentsPointTheSinksElsewhereThroughVariables() throws {
        let pipelines = try Self.load([
            "NOTIFY_URL": "https://push.example.com/hooks/loyali", "WAREHOUSE_URL": "https://warehouse.example.com/hooks/loyali",
            "PROFILES_URL": "https://api.example.com/loyalty/sync",
        ])
        let hosts = pipelines.flatMap(\.sinks).compactMap { ($0.sink as? HTTPSink)?.url.host }.sorted()
        #expect(hosts == ["api.example.com", "push.example.com", "warehouse.example.com"])
    }
}

/// What the help texts and the README promise, checked against what the code and samples hold.
@Suite struct CLIHelpAccuracyTests {
    @Test func deliveriesHelpListsEveryStatus() throws {
        let help = try CLI.run(["deliveries", "--help"])
        for status in DeliveryStatus.allCases {
            #expect(help.stdout.contains(status.rawValue), "deliveries --help omits \(status.rawValue)")
        }
    }

    @Test func serveHelpExampleUsesFieldsTheSamplesHave() throws {
        let help = try CLI.run(["serve", "--help"])
        let samples = try String(contentsOf: CLI.packageRoot.appendingPathComponent("pipelines/events/sample.jsonl"), encoding: .utf8)
        let events = try samples.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        for line in help.stdout.split(separator: "\n") {
            guard line.contains("\"event_type\""), let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") else { continue }
            let example = try JSONParser.parse(String(line[open...close]))
            let type = try #require(example.objectValue?["event_type"]?.stringValue)
            let keys = try #require(example.objectValue?["data"]?.objectValue?.keys)
            let sampled = Set(events.filter { $0.objectValue?["event_type"]?.stringValue == type }
                .flatMap { $0.objectValue?["data"]?.objectValue?.keys ?? [] })
            #expect(!sampled.isEmpty)
            for key in keys { #expect(sampled.contains(key), "serve --help's \(type) example uses '\(key)', which no sample has") }
        }
    }

    @Test func readmeNamesEveryPackageTheInstallerInstalls() throws {
        let installer = try String(contentsOf: CLI.packageRoot.appendingPathComponent(".ci/install-deps"), encoding: .utf8)
        let readme = try String(contentsOf: CLI.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let list = try #require(installer.split(separator: "\n").first { $0.hasPrefix("packages=(") })
        let packages = list.dropFirst("packages=(".count).dropLast().split(separator: " ")
        #expect(packages.contains("libmicrohttpd-dev"))
        for package in packages { #expect(readme.contains("`\(package)`"), "README's package list omits \(package)") }
    }
}

@Suite struct CLIValidateSideEffectTests {
    @Test func validateStartsTheExampleSinkPluginWithoutLeavingAFile() throws {
        let directory = try TemporaryDirectory()
        let result = try CLI.run(
            ["validate", CLI.packageRoot.appendingPathComponent("pipelines/analytics.yaml").path], in: directory.url,
            environment: ["LOYALI_HOOKS_PLUGINS": CLI.packageRoot.appendingPathComponent("plugins").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).isEmpty)
    }
}
