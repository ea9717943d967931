extension String {
    /// The string with `\`, `"` and line feeds escaped as `\\`, `\"` and `\n`, ready to stand
    /// between double quotes: a Prometheus label value, a logfmt value.
    var escapedForDoubleQuotes: String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for character in self {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}

extension String {
    /// The string with every character that could steer a terminal or a log reader written as a
    /// visible escape: C0 controls (`\n`, `\r`, `\t`, otherwise `\u001b`-style), DEL, C1
    /// controls, the Unicode line and paragraph separators and the bidirectional overrides.
    /// Text that came from events (keys, values, ids, event types) passes through this before it
    /// reaches stderr or a log line, so an event cannot ring the bell, recolour the terminal,
    /// rewrite the line or start a forged `level=error` line of its own.
    public var controlCharactersEscaped: String { controlCharactersEscaped(keepingC0: false) }

    /// Like ``controlCharactersEscaped``; with `keepingC0`, C0 controls are left for a JSON
    /// encoder to escape, which writes them as `\n` or `\u001b` itself.
    public func controlCharactersEscaped(keepingC0: Bool) -> String {
        let escapes = { (scalar: Unicode.Scalar) in Self.needsControlEscape(scalar) && !(keepingC0 && scalar.value < 0x20) }
        guard unicodeScalars.contains(where: escapes) else { return self }
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for scalar in unicodeScalars {
            guard escapes(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                let digits = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
            }
        }
        return out
    }

    /// Whether `scalar` is one that ``controlCharactersEscaped`` rewrites.
    @inline(__always)
    static func needsControlEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00..<0x20, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}
