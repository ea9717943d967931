import Foundation
import LoyaliHooks

/// `loyali-hooks check [PATH…] [--json]`: runs the pipeline tests.
enum CheckCommand {
    static let usage = """
        USAGE: loyali-hooks check [PATH…] [--json]

        Runs pipeline tests offline: each test feeds its input events through a pipeline exactly as
        a dry run does (filter, transform steps, transform plugins, signing) and compares what each
        sink would receive with what the test expects. Nothing is sent and no sink is called. Every
        test signs with a fixed test secret at a fixed time (unix 1700000000), so no secret has to
        be set.

        Tests live in a 'tests' folder beside the pipelines: pipelines/tests/*.yaml tests
        pipelines/*.yaml. PATH is a folder (its pipelines and every test under its tests folders),
        a pipeline file (its tests in the tests folder beside it) or a test file (default: pipelines/).
        The test file format is in README.md ("Pipeline tests").

        OPTIONS:
          --json             one JSON object per test, then {"passed":N,"failed":N}
        EXIT CODES: 0 every test passed; 1 a test failed; 2 a pipeline or test file has an error.
        EXAMPLE:
          loyali-hooks check pipelines/
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: [], flags: ["--json"])
        let json = args.has("--json")
        let plan = PipelineTestSuite.plan(for: args.positionals.isEmpty ? ["pipelines"] : args.positionals)
        let loaded = PipelineTestSuite.loadPipelines(paths: plan.pipelinePaths, environment: ProcessInfo.processInfo.environment)
        // Warnings about pipelines are the validator's business; a check shows only what stops it.
        var problems = loaded.diagnostics.filter { $0.severity == .error }
        var tests: [PipelineTestCase] = []
        for file in plan.testFiles {
            let (cases, diagnostics) = PipelineTestFile.load(path: file)
            problems += diagnostics.filter { $0.severity == .error }
            tests += cases
        }
        if !plan.onlyPipelineFiles.isEmpty {
            let named = Set(loaded.pipelines.filter { plan.onlyPipelineFiles.contains($0.file) }.map(\.name))
            let folderTests = Set(plan.testFiles)
            tests = tests.filter { named.contains($0.pipeline) || !folderTests.contains($0.location.path) }
        }
        Reports.diagnostics(problems, json: json)
        guard problems.isEmpty else { throw .config }
        let tested = loaded.pipelines.filter { pipeline in tests.contains { $0.pipeline == pipeline.name } }
        // Transform plugins run as in a dry run; sink plugins are never started.
        let startErrors = PluginRuntime.start(tested, includingSinks: false)
        defer { PluginRuntime.shutdown(tested) }
        Reports.diagnostics(startErrors, json: json)
        guard startErrors.isEmpty else { throw .config }

        let runner = PipelineTestRunner(pipelines: loaded.pipelines)
        var passed = 0
        var failed = 0
        for test in tests {
            let result = runner.run(test)
            if result.passed { passed += 1 } else { failed += 1 }
            if json {
                Terminal.out(resultJSON(result).serializedString)
            } else {
                Terminal.out(resultText(result))
            }
        }
        if json {
            Terminal.out(JSONValue.object(JSONObject(["passed": .number(JSONNumber(Int64(passed))), "failed": .number(JSONNumber(Int64(failed)))])).serializedString)
        } else {
            if tests.isEmpty { Terminal.err("no pipeline tests found (they go in a tests folder beside the pipelines, e.g. pipelines/tests/*.yaml)") }
            Terminal.out("\(passed) passed, \(failed) failed")
        }
        if failed > 0 { throw .failed("") }
    }

    /// `PASS file:line: name`, or `FAIL …` with each problem, its place and the body diff.
    static func resultText(_ result: PipelineTestRunner.Result) -> String {
        let test = result.test
        var text = "\(result.passed ? "PASS" : "FAIL") \(test.location.path):\(test.location.line): \(test.pipeline): \(test.name)"
        for failure in result.failures {
            text += "\n  \(failure.location): \(failure.message)"
            if let diff = failure.diff {
                text += "\n    --- expected\n    +++ actual\n" + diff.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
            } else if let actual = failure.actual {
                text += "\n    actual:\n" + actual.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
            }
        }
        return text
    }

    static func resultJSON(_ result: PipelineTestRunner.Result) -> JSONValue {
        var object = JSONObject()
        object["file"] = .string(result.test.location.path)
        object["line"] = .number(JSONNumber(Int64(result.test.location.line)))
        object["pipeline"] = .string(result.test.pipeline)
        object["test"] = .string(result.test.name)
        object["status"] = .string(result.passed ? "passed" : "failed")
        object["failures"] = .array(result.failures.map { failure in
            var item = JSONObject()
            item["file"] = .string(failure.location.path)
            item["line"] = .number(JSONNumber(Int64(failure.location.line)))
            item["column"] = .number(JSONNumber(Int64(failure.location.column)))
            item["message"] = .string(failure.message)
            if let expected = failure.expected { item["expected"] = .string(expected) }
            if let actual = failure.actual { item["actual"] = .string(actual) }
            if let diff = failure.diff { item["diff"] = .string(diff) }
            return .object(item)
        })
        return .object(object)
    }
}
