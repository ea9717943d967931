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
        self.init(format: format) { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
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
            var object = JSONObject()
            object["level"] = .string(level.rawValue)
            object["msg"] = .string(message)
            for (key, value) in fields { object[key] = .string(value) }
            write(JSONValue.object(object).serializedString)
        }
    }

    static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || $0.isNewline }
        guard needsQuotes else { return value }
        return "\"" + value.escapedForDoubleQuotes + "\""
    }
}
