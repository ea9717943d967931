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
    /// The quoted part of the offending source line, with the caret's place in it.
    public var excerpt: SourceExcerpt?

    /// The quoted text of the offending source line (a window of it when the line is long).
    public var sourceLine: String? { excerpt?.text }

    /// A diagnostic quoting `sourceLine`, cut to a window around the location's column.
    public init(
        _ severity: Severity = .error, at location: SourceLocation?, _ message: String,
        sourceLine: String? = nil
    ) {
        let excerpt = sourceLine.map { SourceExcerpt(line: $0, column: location?.column ?? 1) }
        self.init(severity, at: location, message, excerpt: excerpt)
    }

    /// A diagnostic quoting an excerpt already cut.
    public init(_ severity: Severity = .error, at location: SourceLocation?, _ message: String, excerpt: SourceExcerpt?) {
        self.severity = severity
        self.location = location
        self.message = message
        self.excerpt = excerpt
    }

    /// `path:line:col: error: message`, without the source snippet.
    public var headline: String {
        let prefix = location.map { "\($0): " } ?? ""
        return "\(prefix)\(severity.rawValue): \(message)"
    }

    /// The headline, then the quoted source and a caret under the column when known.
    public var description: String {
        guard location != nil, let excerpt else { return headline }
        return headline + "\n  " + excerpt.text + "\n  " + String(repeating: " ", count: excerpt.caretColumn - 1) + "^"
    }
}

/// Several diagnostics thrown together, so one run reports every problem instead of the first.
public struct DiagnosticList: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
