import Foundation
import Synchronization

/// Structured log lines on stderr: logfmt by default (`level=info msg="…" key=value`), or one
/// JSON object per line with `--log-format json`. Values are written as given, so callers must
/// never pass a secret; delivery bodies and configured header values are never logged.
public struct Logger: Sendable {
    /// Output format.
    public enum Format: String, Sendable { case logfmt, json }
    /// Severity.
    public enum Level: String, Sendable { case debug, info, warn, error }

    public let format: Format
    private let write: @Sendable (String) -> Void

    /// Logs to stderr.
    public init(format: Format = .logfmt) {
        self.init(format: format) { line in StandardStream.write(line + "\n", to: 2) }
    }

    /// Logs through `write` (tests capture lines this way).
    public init(format: Format, write: @escaping @Sendable (String) -> Void) {
        self.format = format
        self.write = write
    }

    /// Writes one line with `fields` in order.
    public func log(_ level: Level, _ message: String, _ fields: KeyValuePairs<String, String> = [:]) {
        log(level, message, fields: fields.map { ($0.key, $0.value) })
    }

    /// Writes one line with `fields` in order.
    public func log(_ level: Level, _ message: String, fields: [(String, String)]) {
        switch format {
        case .logfmt:
            var line = "level=\(level.rawValue) msg=\(Self.logfmtValue(message))"
            for (key, value) in fields { line += " \(key)=\(Self.logfmtValue(value))" }
            write(line)
        case .json:
            // JSON escapes C0 controls itself; DEL, C1 and the others would pass raw.
            var object = JSONObject()
            object["level"] = .string(level.rawValue)
            object["msg"] = .string(message.controlCharactersEscaped(keepingC0: true))
            for (key, value) in fields { object[key] = .string(value.controlCharactersEscaped(keepingC0: true)) }
            write(JSONValue.object(object).serializedString)
        }
    }

    /// A logfmt value, quoted when needed. Every control character is escaped (line breaks as
    /// `\n`, others as `\u001b`), so text from events can neither break the line nor forge one.
    static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains {
            $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || String.needsControlEscape($0) || $0.properties.isWhitespace
        }
        guard needsQuotes else { return value }
        return "\"" + value.escapedForDoubleQuotes.controlCharactersEscaped + "\""
    }
}
