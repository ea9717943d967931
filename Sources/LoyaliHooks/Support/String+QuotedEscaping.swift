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
