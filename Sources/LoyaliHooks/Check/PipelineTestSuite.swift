import Foundation

/// Finds pipeline tests and what they test: the layout `loyali-hooks check` reads.
///
/// Tests live in a `tests` folder beside the pipelines they test (`pipelines/tests/*.yaml` for
/// `pipelines/*.yaml`). The loader skips `tests` folders, so a test file is never taken for a
/// pipeline.
public enum PipelineTestSuite {
    /// What `check PATH…` works on.
    public struct Plan: Sendable {
        /// Pipeline files and folders to load.
        public var pipelinePaths: [String]
        /// Test files, in order.
        public var testFiles: [String]
        /// Pipelines named by a file path: tests of other pipelines in the same folder are skipped.
        public var onlyPipelineFiles: [String]
    }

    /// The tests and pipelines `paths` name:
    /// - a folder: its pipelines, and every test file in a `tests` folder under it;
    /// - a pipeline file: that pipeline, and the tests in the `tests` folder beside it that name it;
    /// - a test file: its tests, and the pipelines of the folder its `tests` folder is in.
    public static func plan(for paths: [String]) -> Plan {
        var plan = Plan(pipelinePaths: [], testFiles: [], onlyPipelineFiles: [])
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                plan.pipelinePaths.append(path)  // the loader reports it
                continue
            }
            if isDirectory.boolValue {
                plan.pipelinePaths.append(path)
                plan.testFiles += testFiles(under: path)
            } else if PipelineTestFile.isTestFile(path) {
                plan.testFiles.append(path)
                let folder = ((path as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
                plan.pipelinePaths.append(folder.isEmpty ? "." : folder)
            } else {
                plan.pipelinePaths.append(path)
                plan.onlyPipelineFiles.append(path)
                let folder = (path as NSString).deletingLastPathComponent
                plan.testFiles += testFiles(under: ((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent("tests"))
            }
        }
        var seen = Set<String>()
        plan.testFiles = plan.testFiles.filter { seen.insert($0).inserted }
        seen = []
        plan.pipelinePaths = plan.pipelinePaths.filter { seen.insert($0).inserted }
        return plan
    }

    /// Test files under `directory`, sorted.
    static func testFiles(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        let base = (directory as NSString).lastPathComponent == "tests" ? "tests/" : ""
        while let relative = enumerator.nextObject() as? String {
            let separator = directory.hasSuffix("/") ? "" : "/"
            if PipelineTestFile.isTestFile(base + relative) { files.append(directory + separator + relative) }
        }
        return files.sorted()
    }

    /// `environment` plus the test secret for every variable that `files` reference without a
    /// default and `environment` lacks: tests sign with the test secret anyway, so they never
    /// need the real ones and run in CI with none set.
    public static func environment(_ environment: [String: String], forFiles files: [String]) -> [String: String] {
        var result = environment
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            var rest = text[...]
            while let start = rest.range(of: "${") {
                rest = rest[start.upperBound...]
                guard let end = rest.firstIndex(of: "}") else { break }
                let name = String(rest[..<end])
                if VariableInterpolator.isValidName(name), result[name] == nil {
                    result[name] = PipelineTestRunner.testSecret.revealText()
                }
                rest = rest[end...]
            }
        }
        return result
    }
}

extension PipelineTestSuite {
    /// Loads the pipelines in `paths` for testing: with ``environment(_:forFiles:)``, so unset
    /// secrets do not stop a check.
    public static func loadPipelines(paths: [String], environment: [String: String]) -> PipelineLoader.Result {
        var ignored: [Diagnostic] = []
        let files = PipelineLoader.pipelineFiles(in: paths, reportingEmptyFolders: false, into: &ignored)
        return PipelineLoader(environment: Self.environment(environment, forFiles: files)).load(paths: paths)
    }
}
