import Foundation

extension PipelineLoader {
    /// A loader for commands that read pipelines but never sign with their secrets or send
    /// (`check`, `plan`, `diff`): `environment` plus a placeholder for every variable that the
    /// pipeline files in `paths` reference without a default and `environment` lacks. The
    /// placeholder is a well-formed `whsec_` secret, so unset secrets in CI do not stop them.
    public static func offline(paths: [String], environment: [String: String]) -> PipelineLoader {
        var ignored: [Diagnostic] = []
        let files = pipelineFiles(in: paths, reportingEmptyFolders: false, into: &ignored)
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
        return PipelineLoader(environment: result)
    }
}
