/// A problem found in user input, printed the way a compiler prints one:
///
/// ```
/// pipelines/sync.yaml:7:13: error: unknown event type 'point.earned'; did you mean 'points.earned'?
///   events: [point.earned]
///            ^
/// ```
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// How serious the problem is.
    public enum Severity: String, Sendable, Hashable {
        case error, warning, note
    }

    public var severity: Severity
    /// Where the problem is; `nil` when it concerns no particular place (e.g. a missing file).
    public var location: SourceLocation?
    /// What is wrong, in one sentence.
    public var message: String
    /// The text of the offending source line, shown under the message with a caret.
    public var sourceLine: String?

    public init(
        _ severity: Severity = .error, at location: SourceLocation?, _ message: String,
        sourceLine: String? = nil
    ) {
        self.severity = severity
        self.location = location
        self.message = message
        self.sourceLine = sourceLine
    }

    /// `path:line:col: error: message`, without the source snippet.
    public var headline: String {
        let prefix = location.map { "\($0): " } ?? ""
        return "\(prefix)\(severity.rawValue): \(message)"
    }

    /// The headline, then the source line and a caret under the column when known.
    public var description: String {
        guard let location, let sourceLine else { return headline }
        let shown = sourceLine.replacingTabs()
        let caretColumn = max(1, min(location.column, shown.count + 1))
        return headline + "\n  " + shown + "\n  " + String(repeating: " ", count: caretColumn - 1) + "^"
    }
}

extension String {
    /// Tabs become one space so the caret under a column still lines up.
    fileprivate func replacingTabs() -> String {
        String(map { $0 == "\t" ? " " : $0 })
    }
}

/// Several diagnostics thrown together, so one run reports every problem instead of the first.
public struct DiagnosticList: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
