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
            // The interpolator's own parse, line by line (a reference never spans lines), so that
            // `$${NAME}` and defaults are read as `run` reads them, and one malformed reference
            // costs only its own line: the loader reports it with its position.
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                let interpolator = VariableInterpolator(environment: result)
                guard case .success(let expansion) = interpolator.expand(String(line), placeholder: { _, _, _ in "" }) else { continue }
                for missing in expansion.missing {
                    result[missing.name] = PipelineTestRunner.testSecret.revealText()
                }
            }
        }
        return PipelineLoader(environment: result)
    }
}
