/// Why an input line was refused. The run goes on; the line is counted and can be kept with
/// `--rejects`.
public struct InputRejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number in its source.
    public var line: Int
    /// 1-based column when the problem is a JSON syntax error, else `nil`.
    public var column: Int?
    /// What is wrong.
    public var reason: String

    public init(line: Int, column: Int? = nil, reason: String) {
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String {
        column.map { "\(line):\($0): \(reason)" } ?? "\(line): \(reason)"
    }
}

extension InputRejection {
    /// The reason with its column, as shown to people: `invalid JSON: … at column 17`.
    public var reasonWithColumn: String {
        reason + (column.map { " at column \($0)" } ?? "")
    }

    /// The stderr line every run prints for a refused line: `input:LINE: reason`. Reasons quote
    /// the line's own text (an event type, a timestamp), so control characters in it are escaped:
    /// a line break in event data must not start a line of its own.
    public func message(source: String?) -> String {
        ("input:\(line): \(reasonWithColumn)" + (source.map { " (\($0))" } ?? "")).controlCharactersEscaped
    }

    /// The `--rejects` record: `{"source":…,"line":…,"reason":…,"raw":"<the line as read>"}`.
    public func record(source: String, raw: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = Array(#"{"source":"#.utf8)
        JSONValue.appendJSONString(source, to: &out)
        out += #","line":"#.utf8
        out += String(line).utf8
        out += #","reason":"#.utf8
        JSONValue.appendJSONString(reasonWithColumn, to: &out)
        out += #","raw":"#.utf8
        // The raw line may not be valid UTF-8 (that can be why it was refused); invalid bytes
        // become U+FFFD so the record itself stays valid JSON.
        JSONValue.appendJSONString(String(decoding: raw, as: UTF8.self), to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Whether a line holds nothing but spaces, tabs or a carriage return: skipped, not refused.
    public static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
