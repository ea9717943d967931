/// Writes the Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` once per
/// metric family, then its samples, with label values and help text escaped as the format
/// requires.
public struct PrometheusText: Sendable {
    /// The `Content-Type` of the format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The text so far.
    public private(set) var text = ""

    /// An empty exposition.
    public init() {}

    /// Starts a family: `# HELP name help` and `# TYPE name type`.
    public mutating func family(_ name: String, type: String, help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    /// One sample line: `name{label="value",…} value`.
    public mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        line(name, labels, Self.format(value))
    }

    /// One sample line with an integer value.
    public mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Int) {
        line(name, labels, String(value))
    }

    /// One sample line without labels.
    public mutating func sample(_ name: String, _ value: Int) {
        line(name, [], String(value))
    }

    private mutating func line(_ name: String, _ labels: [(String, String)], _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{"
            text += labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",")
            text += "}"
        }
        text += " \(value)\n"
    }

    /// A label value with `\`, `"` and newlines escaped.
    public static func escapeLabel(_ value: String) -> String {
        value.escapedForDoubleQuotes
    }

    /// Help text with `\` and newlines escaped.
    public static func escapeHelp(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// A float as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, or a decimal.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
