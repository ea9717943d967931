import Foundation
import Testing
@testable import LoyaliHooks

/// `docs/alerts.yaml` against a real `serve`: its `/metrics` after deliveries that succeed, fail,
/// retry and pause a sink, turned into `promtool test rules` input series, with expectations of
/// which alerts fire. So the rules use metric names and labels that exist, and fire when they
/// should. Needs `promtool` (Debian package `prometheus`, installed by `.ci/install-deps`).
@Suite("Alert rules", .serialized)
struct AlertRulesTests {
    static let rules = CLI.packageRoot.appendingPathComponent("docs/alerts.yaml").path

    static let promtool: String? = ["/usr/bin/promtool", "/usr/local/bin/promtool", "/bin/promtool"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs promtool with `arguments`; its status and output.
    static func promtool(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let tool = try #require(promtool, "promtool is missing: install the Debian package prometheus (.ci/install-deps does)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.runTiedToTests()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// A TCP port on 127.0.0.1 nothing listens on: bound, then closed.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The exposition as promtool input series: counters 0 at the start and their scraped value
    /// from the first minute on (so `increase` sees them grow), gauges at their value throughout.
    static func inputSeries(_ exposition: String) -> String {
        var types: [String: String] = [:]
        var lines: [String] = []
        for line in exposition.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = String(line[..<space])
            let value = String(line[line.index(after: space)...])
            let name = String(series.prefix { $0 != "{" })
            let family = types[name] != nil ? name : ["_bucket", "_sum", "_count"].reduce(name) { $0.hasSuffix($1) ? String($0.dropLast($1.count)) : $0 }
            let counter = ["counter", "histogram"].contains(types[family] ?? "")
            let values = counter ? "0 \(value)+0x30" : "\(value)+0x31"
            lines.append("      - series: '\(series.replacingOccurrences(of: "'", with: "''"))'\n        values: '\(values)'")
        }
        return lines.joined(separator: "\n")
    }

    /// `docs/alerts.yaml` without its annotations: promtool compares those too, and they quote
    /// values; the expressions, `for` and labels are what is tested.
    static func rulesWithoutAnnotations() throws -> String {
        var kept: [Substring] = []
        var skipDeeperThan: Int?
        for line in try String(contentsOfFile: rules, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " }.count
            if let depth = skipDeeperThan, line.trimmingCharacters(in: .whitespaces).isEmpty || indent > depth { continue }
            skipDeeperThan = nil
            if line.trimmingCharacters(in: .whitespaces) == "annotations:" {
                skipDeeperThan = indent
                continue
            }
            kept.append(line)
        }
        return kept.joined(separator: "\n")
    }

    @Test("promtool check rules accepts docs/alerts.yaml")
    func checkRules() throws {
        let result = try Self.promtool(["check", "rules", Self.rules])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("promtool test rules: the rules a short run cannot bring about fire on made-up series, and stay quiet on others")
    func ruleUnitTests() throws {
        let tests = CLI.packageRoot.appendingPathComponent("docs/alerts.test.yaml").path
        let result = try Self.promtool(["test", "rules", tests])
        #expect(result.status == 0, "\(result.output)")
        // Each rule it covers has a case where it fires and one where it does not.
        let text = try String(contentsOfFile: tests, encoding: .utf8)
        for alert in ["LoyaliHooksOperationalEventsDropped", "LoyaliHooksOperationalEventsWaiting", "LoyaliHooksBacklogGrowing"] {
            let cases = text.components(separatedBy: "alertname: \(alert)\n").dropFirst()
            #expect(cases.contains { $0.hasPrefix("        exp_alerts: []") }, "\(alert) is never shown quiet")
            #expect(cases.contains { $0.hasPrefix("        exp_alerts:\n") }, "\(alert) is never shown firing")
        }
    }

    @Test("alerts fire on series scraped from a real serve: failed deliveries, low success, retries and a paused sink; the rest stay quiet")
    func rulesAgainstRealMetrics() throws {
        let down = try Self.closedPort()
        let pipeline = """
            pipeline: ingest
            source: { type: http, listen: "127.0.0.1:0", path: /events, token: "${INGEST_TOKEN}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              audit: { type: file, path: "${OUT}" }
              down: { type: http, url: "http://127.0.0.1:\(down)/hook", retry: { schedule: [0s, 0s] }, pause: false }
              flapping: { type: http, url: "http://127.0.0.1:\(down)/other", retry: { schedule: [0s, 1h] }, pause: { after: 1, probe: 1h } }
            """
        let fixture = try ServeFixture(files: ["ingest.yaml": pipeline])
        for n in 1...3 {
            #expect(try fixture.post(#"{"id":"evt_alert_\#(n)","event_type":"points.earned","data":{"amount":\#(n)}}"#).status == 202)
        }
        var metrics = ""
        let settled = try ServeFixture.eventually(seconds: 10) {
            metrics = try fixture.admin("GET", "/metrics").text
            let parsed = try PrometheusParser.parse(metrics)
            return parsed.value("loyali_hooks_deliveries_total", ["pipeline": "ingest", "sink": "down", "outcome": "failed"]) == 3
                && parsed.value("loyali_hooks_deliveries_total", ["pipeline": "ingest", "sink": "audit", "outcome": "succeeded"]) == 3
                && parsed.value("loyali_hooks_sink_state", ["pipeline": "ingest", "sink": "flapping", "state": "paused"]) == 1
        }
        try #require(settled, "serve never got to the expected state:\n\(metrics)")
        // Every metric the rules name is in the scrape.
        let rulesText = try String(contentsOfFile: Self.rules, encoding: .utf8)
        let names = Set(rulesText.matches(of: /loyali_hooks_[a-z_]+/).map { String($0.output) })
        #expect(names.count >= 6)
        for name in names { #expect(metrics.contains("\n\(name){") || metrics.contains("\n\(name) "), "\(name) is not exported") }

        let directory = fixture.directory
        try Self.rulesWithoutAnnotations().write(toFile: directory + "/alerts.yaml", atomically: true, encoding: .utf8)
        func fires(_ alert: String, _ sinks: [String], severity: String) -> String {
            let expected = sinks.map { "          - exp_labels: { severity: \(severity), pipeline: ingest, sink: \($0) }" }
            return "      - eval_time: 10m\n        alertname: \(alert)\n        exp_alerts:\(expected.isEmpty ? " []" : "\n" + expected.joined(separator: "\n"))"
        }
        let test = """
            rule_files: [alerts.yaml]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
            \(Self.inputSeries(metrics))
                alert_rule_test:
            \(fires("LoyaliHooksDeliveryFailed", ["down"], severity: "critical"))
            \(fires("LoyaliHooksSuccessRateLow", ["down"], severity: "warning"))
            \(fires("LoyaliHooksRetryRateHigh", ["down", "flapping"], severity: "warning"))
            \(fires("LoyaliHooksSinkPaused", ["flapping"], severity: "warning"))
            \(fires("LoyaliHooksSinkDisabled", [], severity: "critical"))
            \(fires("LoyaliHooksLatencyHigh", [], severity: "warning"))
            \(fires("LoyaliHooksStoreCannotWrite", [], severity: "critical"))
            \(fires("LoyaliHooksOperationalEventsDropped", [], severity: "critical"))
            \(fires("LoyaliHooksOperationalEventsWaiting", [], severity: "warning"))
            \(fires("LoyaliHooksBacklogGrowing", [], severity: "warning"))

            """
        try test.write(toFile: directory + "/alerts.test.yaml", atomically: true, encoding: .utf8)
        let result = try Self.promtool(["test", "rules", directory + "/alerts.test.yaml"])
        #expect(result.status == 0, "\(result.output)\n\(test)")
    }

    @Test("a store write that fails is counted, so LoyaliHooksStoreCannotWrite has something to see")
    func storeWriteFailuresAreExported() throws {
        let metrics = ServeMetrics()
        metrics.storeWriteFailed(operation: "enqueue")
        metrics.storeWriteFailed(operation: "enqueue")
        let parsed = try PrometheusParser.parse(metrics.render(ServeMetrics.Snapshot(outbox: nil, commits: (0, 0, 0), ready: true, runners: 1)))
        #expect(parsed.value("loyali_hooks_store_write_failures_total", ["operation": "enqueue"]) == 2)
        #expect(parsed.value("loyali_hooks_store_write_failures_total", ["operation": "record"]) == 0)
    }
}
