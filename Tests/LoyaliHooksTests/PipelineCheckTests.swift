import Foundation
import Testing

@testable import LoyaliHooks

// `loyali-hooks check`: pipeline tests beside the pipelines, run offline as a dry run would.

@Suite struct PipelineCheckTests {
    /// A folder with one pipeline (`pipelines/points.yaml`) and a test file holding `tests`.
    static func tree(tests: String, pipeline: String = Self.pointsPipeline) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.path("pipelines/tests"), withIntermediateDirectories: true)
        try Data(pipeline.utf8).write(to: URL(fileURLWithPath: directory.path("pipelines/points.yaml")))
        try Data(tests.utf8).write(to: URL(fileURLWithPath: directory.path("pipelines/tests/points.yaml")))
        return directory
    }

    static let pointsPipeline = """
        pipeline: points
        source: { type: stdin }
        filter: { events: ["points.*"] }
        transform:
          - redact: [data.email]
          - rename: { data.amount: data.points }
        sign: { secrets: ["${POINTS_SECRET}"] }
        sinks:
          hook: { type: http, url: "https://hooks.example.com/in", headers: { Authorization: "Bearer ${POINTS_TOKEN}" } }
          log: { type: file, path: out.jsonl }

        """

    @Test("the shipped pipelines' tests pass with no secret set")
    func shippedTestsPass() throws {
        let result = try CLI.run(["check", "pipelines/"], unsetting: ["NOTIFY_SECRET", "FULFILLMENT_SECRET", "SYNC_SECRET"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdoutLines.last?.hasSuffix(" passed, 0 failed") == true, "\(result.stdout)")
        #expect(!result.stdout.contains("FAIL"))
    }

    @Test("a subset of data that matches passes; headers are compared, the signature by presence only")
    func matchingTestPasses() throws {
        let directory = try Self.tree(tests: """
            tests:
              - name: earned points are renamed and the email redacted
                input:
                  - { id: evt_1, event_type: points.earned, data: { email: a@b.c, amount: 150.0, tier: gold } }
                  - { id: evt_2, event_type: tier.upgraded, data: { email: a@b.c } }
                expect:
                  hook:
                    - data: { points: 1.5e2, email: "[REDACTED]" }
                      headers:
                        x-loyali-event: points.earned
                        Authorization: "Bearer ${POINTS_TOKEN}"
                        X-Loyali-Signature: anything
                  log:
                    - event_type: points.earned

            """)
        let result = try CLI.run(["check", "pipelines"], in: directory.url)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdoutLines.last == "1 passed, 0 failed")
        for path in ["pipelines/tests", "pipelines/tests/points.yaml", "pipelines/points.yaml"] {
            let one = try CLI.run(["check", path], in: directory.url)
            #expect(one.status == 0 && one.stdoutLines.last == "1 passed, 0 failed", "\(path): \(one.stdout)\(one.stderr)")
        }
    }

    @Test("a wrong value fails with a diff of expected against actual, naming the file and line")
    func mismatchShowsDiff() throws {
        let directory = try Self.tree(tests: """
            tests:
              - name: right
                input: [{ event_type: points.earned, data: { amount: 5 } }]
                expect: { log: [{ data: { points: 5 } }] }
              - name: wrong points
                input: [{ event_type: points.earned, data: { amount: 150, tier: gold } }]
                expect:
                  hook:
                    - data: { points: 151, tier: gold }

            """)
        let result = try CLI.run(["check", "pipelines"], in: directory.url)
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL pipelines/tests/points.yaml:5: points: wrong points"), "\(result.stdout)")
        #expect(result.stdout.contains("pipelines/tests/points.yaml:9:11: sink 'hook', delivery 1"), "\(result.stdout)")
        #expect(result.stdout.contains("-     \"points\": 151,\n    +     \"points\": 150,"), "\(result.stdout)")
        #expect(result.stdoutLines.last == "1 passed, 1 failed")
    }

    @Test("no delivery, delivery counts, headers, whole bodies and transform failures are each checked")
    func everyKindOfExpectation() throws {
        let directory = try Self.tree(tests: """
            tests:
              - name: filtered out
                input: [{ event_type: customer.created, data: {} }]
                expect: { hook: none, log: [] }
              - name: wrongly expects nothing
                input: [{ event_type: points.earned, data: {} }]
                expect: { hook: none }
              - name: wrong header
                input: [{ event_type: points.earned, data: {} }]
                expect: { hook: [{ headers: { X-Loyali-Event: points.redeemed } }] }
              - name: wrong count
                input: [{ event_type: points.earned, data: {} }]
                expect: { log: [{ data: {} }, { data: {} }] }
              - name: whole body
                input: [{ id: evt_9, event_type: points.earned, created_at: "2024-01-20T14:30:00Z", data: { amount: 1 } }]
                expect:
                  log:
                    - body: '{"id":"whd_x","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{"points":1}}'

            """)
        let result = try CLI.run(["check", "pipelines", "--json"], in: directory.url)
        #expect(result.status == 1)
        let lines = try result.stdoutLines.map { try #require(try JSONParser.parse($0).objectValue) }
        let status = lines.dropLast().map { $0["test"]!.stringValue! + "=" + $0["status"]!.stringValue! }
        #expect(status == [
            "filtered out=passed", "wrongly expects nothing=failed", "wrong header=failed", "wrong count=failed",
            "whole body=failed",
        ], "\(result.stdout)")
        #expect(lines.last == JSONObject(["passed": .number(JSONNumber(1)), "failed": .number(JSONNumber(4))]))
        let messages = lines.dropLast().map { line in
            line["failures"]!.arrayValue!.map { $0.objectValue!["message"]!.stringValue! }.joined(separator: " | ")
        }
        #expect(messages[1].contains("sink 'hook': expected no delivery, got 1 delivery"), "\(messages[1])")
        #expect(messages[2].contains("header X-Loyali-Event: expected 'points.redeemed', got 'points.earned'"), "\(messages[2])")
        #expect(messages[3].contains("sink 'log': expected 2 deliveries, got 1"), "\(messages[3])")
        #expect(messages[4].contains("body differs"), "\(messages[4])")
        let diff = lines[4]["failures"]!.arrayValue![0].objectValue!["diff"]!.stringValue!
        #expect(diff.contains("-   \"id\": \"whd_x\",\n+   \"id\": \"whd_"), "\(diff)")
        #expect(!diff.contains("-     \"points\"") && !diff.contains("+     \"points\""), "the data matches: \(diff)")
    }

    @Test("a transform that fails with the expected reason passes")
    func expectedTransformFailure() throws {
        let pipeline = Self.pointsPipeline.replacingOccurrences(of: "- redact: [data.email]", with: "- set: { data.email.x: 1 }")
        let directory = try Self.tree(tests: """
            tests:
              - name: email must be an object to set into
                input: [{ event_type: points.earned, data: { email: a@b.c } }]
                expect_failure: "data.email"
                expect: { hook: none }
              - name: nothing fails
                input: [{ event_type: customer.created, data: { email: a@b.c } }]
                expect_failure: "data.email"
              - name: fails for another reason
                input: [{ event_type: points.earned, data: { email: a@b.c } }]
                expect_failure: "some other reason"

            """, pipeline: pipeline)
        let result = try CLI.run(["check", "pipelines"], in: directory.url)
        #expect(result.stdout.contains("PASS pipelines/tests/points.yaml:2"), "\(result.stdout)")
        #expect(result.stdout.contains("pipelines/tests/points.yaml:8:21: expected a transform step to fail with 'data.email'"), "\(result.stdout)")
        #expect(result.stdout.contains("(expect_failure wants 'some other reason')"), "\(result.stdout)")
        #expect(result.stdoutLines.last == "1 passed, 2 failed")
        #expect(result.status == 1)
    }

    @Test("a mistake in a test file is a config error at its line and column")
    func badTestFile() throws {
        let directory = try Self.tree(tests: """
            tests:
              - name: typo
                input: [{ event_type: points.earned, data: {} }]
                expcet: { hook: none }

            """)
        let result = try CLI.run(["check", "pipelines"], in: directory.url)
        #expect(result.status == 2)
        #expect(result.stderr.contains("pipelines/tests/points.yaml:4:5: error: unknown key 'expcet' in a test; did you mean 'expect'?"), "\(result.stderr)")
    }

    @Test("validate and run never take a test file for a pipeline")
    func loaderSkipsTests() throws {
        let directory = try Self.tree(tests: "tests: []\n")
        let result = PipelineLoader(environment: ["POINTS_SECRET": "s", "POINTS_TOKEN": "t"]).load(paths: [directory.path("pipelines")])
        #expect(result.files == [directory.path("pipelines") + "/points.yaml"])
        #expect(!result.hasErrors)
    }

    @Test("numbers compare as decimals, objects by subset, arrays exactly")
    func comparison() throws {
        let actual = try JSONParser.parse(#"{"a":150,"b":{"c":[1,2],"d":"x"},"e":1e12}"#)
        #expect(JSONComparison.contains(actual, try JSONParser.parse(#"{"a":1.5e2,"e":1000000000000.0}"#)))
        #expect(JSONComparison.contains(actual, try JSONParser.parse(#"{"b":{"c":[1,2]}}"#)))
        #expect(!JSONComparison.contains(actual, try JSONParser.parse(#"{"b":{"c":[1]}}"#)))
        #expect(!JSONComparison.contains(actual, try JSONParser.parse(#"{"a":"150"}"#)))
        #expect(!JSONComparison.contains(actual, try JSONParser.parse(#"{"z":null}"#)))
        #expect(!JSONComparison.equal(actual, try JSONParser.parse(#"{"a":150}"#)))
        #expect(JSONComparison.canonicalDecimal("-0.050") == JSONComparison.canonicalDecimal("-5e-2"))
        #expect(JSONComparison.canonicalDecimal("0.1") != JSONComparison.canonicalDecimal("0.10000000000000001"))
    }
}
