import Foundation
import LoyaliHooks

/// The PIPELINE argument of `test` and `plan`: a pipeline file, or a name looked up in PATH….
enum PipelineArgument {
    /// The pipeline `argument` names: a pipeline file, or a name looked up in `paths`.
    static func pipeline(_ argument: String, paths: [String], loader: PipelineLoader, lookup: String) throws(CLIError) -> PipelineDefinition {
        let isFile = argument.contains("/") || argument.hasSuffix(".yaml") || argument.hasSuffix(".yml")
        if isFile {
            guard paths.isEmpty else { throw .usage("PATH… looks up a pipeline by name; with a pipeline file, give no PATH") }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue {
                throw .usage("'\(argument)' is a folder; give a pipeline name (looked up in it with '\(lookup) \(argument)') or a pipeline file")
            }
            let result = loader.load(paths: [argument])
            Reports.diagnostics(result.diagnostics, json: false)
            guard !result.hasErrors, let pipeline = result.pipelines.first else { throw .config }
            return pipeline
        }
        let result = loader.load(pipelineNamed: argument, in: paths.isEmpty ? ["pipelines"] : paths)
        Reports.diagnostics(result.diagnostics, json: false)
        guard !result.diagnostics.contains(where: { $0.severity == .error }) else { throw .config }
        guard let pipeline = result.pipeline else {
            var message = "no pipeline '\(argument)'\(Suggestion.didYouMean(argument, in: result.knownNames))"
            if !result.unreadableFiles.isEmpty {
                message += " (not loaded, with errors: \(result.unreadableFiles.joined(separator: ", ")); 'loyali-hooks validate' shows them)"
            }
            throw .usage(message)
        }
        return pipeline
    }
}
