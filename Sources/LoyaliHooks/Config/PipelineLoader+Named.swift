import Foundation

extension PipelineLoader {
    /// What ``load(pipelineNamed:in:)`` found.
    public struct NamedResult: Sendable {
        /// The pipeline, when its file loaded without errors.
        public var pipeline: PipelineDefinition?
        /// Diagnostics of the pipeline's own file (and of missing paths); other files' are left out.
        public var diagnostics: [Diagnostic]
        /// When the pipeline was not found: the names of the pipelines that were.
        public var knownNames: [String]
        /// When the pipeline was not found: files that could not be loaded, which might hold it.
        public var unreadableFiles: [String]
    }

    /// Loads only what it takes to find the pipeline named `name` under `paths`: the file named
    /// after it first (the usual case), then the others one at a time until one defines it. Other
    /// pipelines' problems, such as a secret unset in this shell, do not stand in the way; a
    /// problem in the pipeline's own file is reported.
    public func load(pipelineNamed name: String, in paths: [String]) -> NamedResult {
        var diagnostics: [Diagnostic] = []
        let files = Self.pipelineFiles(in: paths, reportingEmptyFolders: false, into: &diagnostics)
        // Stable: files named after the pipeline first, the rest in their usual order.
        let ordered = files.filter { Self.defaultName(for: $0) == name } + files.filter { Self.defaultName(for: $0) != name }
        var knownNames: [String] = []
        var unreadable: [String] = []
        for file in ordered {
            let loaded = load(paths: [file])
            if let pipeline = loaded.pipelines.first(where: { $0.name == name }) {
                return NamedResult(pipeline: pipeline, diagnostics: diagnostics + loaded.diagnostics, knownNames: [], unreadableFiles: [])
            }
            if loaded.hasErrors {
                // A file named after the pipeline that fails to load is the pipeline's own problem.
                if Self.defaultName(for: file) == name {
                    return NamedResult(pipeline: nil, diagnostics: diagnostics + loaded.diagnostics, knownNames: [], unreadableFiles: [])
                }
                unreadable.append(file)
            }
            knownNames += loaded.pipelines.map(\.name)
        }
        return NamedResult(pipeline: nil, diagnostics: diagnostics, knownNames: knownNames, unreadableFiles: unreadable)
    }
}
