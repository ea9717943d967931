/// Signature headers as a person pastes them into `verify --header`: either the bare value
/// (`t=…,v1=…`) or whole `Name: value` lines, exactly as `sign` prints them (one line for
/// `loyali`, three for `standard-webhooks`), so the output of one command is the input of the other.
public struct PastedSignatureHeaders: Sendable, Equatable {
    /// Lines that carried a header name, in order, values without surrounding whitespace.
    public var named: [HTTPHeader] = []
    /// Lines that were only a value.
    public var bare: [String] = []

    /// Splits `text` into lines (LF or CRLF); blank lines are skipped. A line is `Name: value` when
    /// it starts with an HTTP token (letters, digits, `-`, `_`) followed by a colon; neither
    /// scheme's bare value can look like that (`t=…`, `v1,…`).
    public init(_ text: String) {
        for rawLine in Substring(text).splitHeader(on: UInt8(ascii: "\n")) {
            var line = rawLine
            if line.hasSuffix("\r") { line = line.dropLast() }
            line = line.trimmingHeaderWhitespace()
            guard !line.isEmpty else { continue }
            if let colon = line.firstIndex(ofASCII: UInt8(ascii: ":")), colon != line.startIndex,
                line[..<colon].utf8.allSatisfy(Self.isTokenByte)
            {
                let value = line[line.index(after: colon)...].trimmingHeaderWhitespace()
                named.append(HTTPHeader(name: String(line[..<colon]), value: String(value)))
            } else {
                bare.append(String(line))
            }
        }
    }

    /// The value of the line named `name` (compared ASCII case-insensitively, as HTTP does).
    public func value(named name: String) -> String? {
        named.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// Whether some line is named `name`.
    public func has(_ name: String) -> Bool { value(named: name) != nil }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }
}
