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
    /// - a test file or a `tests` folder: its tests, and the pipelines of the folder the `tests`
    ///   folder is in.
    public static func plan(for paths: [String]) -> Plan {
        var plan = Plan(pipelinePaths: [], testFiles: [], onlyPipelineFiles: [])
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                plan.pipelinePaths.append(path)  // the loader reports it
                continue
            }
            if isDirectory.boolValue, (path as NSString).lastPathComponent == "tests" {
                // A tests folder: its tests, and the pipelines of the folder it is in.
                plan.testFiles += testFiles(under: path)
                let folder = (path as NSString).deletingLastPathComponent
                plan.pipelinePaths.append(folder.isEmpty ? "." : folder)
            } else if isDirectory.boolValue {
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
        plan.testFiles = plan.testFiles.uniqued()
        plan.pipelinePaths = plan.pipelinePaths.uniqued()
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
}

extension PipelineTestSuite {
    /// Loads the pipelines in `paths` for testing, with ``PipelineLoader/offline(paths:environment:)``
    /// so that unset secrets do not stop a check.
    public static func loadPipelines(paths: [String], environment: [String: String]) -> PipelineLoader.Result {
        PipelineLoader.offline(paths: paths, environment: environment).load(paths: paths)
    }
}
