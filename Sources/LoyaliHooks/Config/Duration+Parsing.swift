extension Duration {
    /// Parses a config duration: an integer or decimal followed by `ms`, `s`, `m`, `h` or `d`
    /// (`500ms`, `10s`, `1.5m`, `2h`, `1d`). A bare `0` means zero. Returns `nil` for anything else.
    public static func parse(config text: String) -> Duration? {
        let text = text.trimmingSpaces()
        if text == "0" { return .zero }
        let units: [(suffix: String, millis: Double)] = [
            ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            // "5ms" also ends in "s"; the ordered list tries "ms" first, and a leftover "m" fails here.
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                let value = Double(number), value.isFinite
            else { continue }
            return .milliseconds(Int64((value * unit.millis).rounded()))
        }
        return nil
    }

    /// Whole milliseconds in this duration.
    public var totalMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }

    /// A compact rendering in the config syntax: `1m`, `2h`, `1500ms`.
    public var configDescription: String {
        let ms = totalMilliseconds
        for (suffix, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)]
        where ms >= size && ms % size == 0 {
            return "\(ms / size)\(suffix)"
        }
        return ms == 0 ? "0s" : "\(ms)ms"
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines (no Foundation needed).
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }),
            let last = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}
