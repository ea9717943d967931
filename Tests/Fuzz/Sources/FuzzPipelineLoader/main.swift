import FuzzSupport
import LoyaliHooks

// PipelineLoader on arbitrary YAML bytes: never a crash; a file either loads or has an error,
// never both; every diagnostic points at a place inside the file (or just after its end); no signing secret's value
// (reachable only through ${VAR}) is ever quoted in a message.
enum Target {
    static let loader = PipelineLoader(environment: FuzzSecrets.environment, registry: .builtIn)
    static let secretValues = [FuzzSecrets.current, FuzzSecrets.previous, FuzzSecrets.other]
}

runFuzzer { data, size in
    let bytes = fuzzBytes(data, size)
    // PipelineLoader.load(paths:) refuses a file that is not UTF-8 before parsing; do the same.
    guard let text = String(validating: bytes, as: UTF8.self) else { return 0 }
    let (loaded, diagnostics) = Target.loader.load(file: "fuzz.yaml", text: text)
    let hasErrors = diagnostics.contains { $0.severity == .error }
    require(hasErrors == (loaded == nil), "loaded: \(loaded != nil), errors: \(hasErrors)")
    // libyaml also breaks lines at CR, NEL, LS and PS; CRLF counts twice here, which only loosens the bound.
    let lineCount = text.unicodeScalars.reduce(1) { ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"].contains($1) ? $0 + 1 : $0 }
    for diagnostic in diagnostics {
        let shown = diagnostic.description
        if let location = diagnostic.location {
            require(location.path == "fuzz.yaml", "diagnostic for another file: \(shown)")
            // libyaml reports an error at the end of the input on the line after the last one.
            require(location.line >= 1 && location.line <= lineCount + 1, "line outside the file: \(shown)")
            require(location.column >= 1, "column before the line: \(shown)")
        }
        for secret in Target.secretValues {
            // The input may spell the secret out itself; only an expanded ${VAR} is a leak.
            guard !text.contains(secret) else { continue }
            require(!shown.contains(secret), "a secret's value is shown: \(shown)")
        }
    }
    if let (pipeline, nameLocation) = loaded {
        require(!pipeline.name.isEmpty, "a pipeline with no name loaded")
        require(nameLocation.line >= 1 && nameLocation.line <= lineCount, "name location \(nameLocation)")
    }
    return 0
}
