/// Compares JSON values the way a pipeline test reads them, and shows how two differ.
///
/// Numbers compare by decimal value (`150`, `150.0` and `1.5e2` are equal), object keys in any
/// order; an expected object may be a subset of the actual one.
public enum JSONComparison {
    /// Whether `a` and `b` are the same value.
    public static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            return x.members.allSatisfy { member in y[member.key].map { equal(member.value, $0) } ?? false }
        default:
            return matches(a, b, subset: false)
        }
    }

    /// Whether `actual` holds everything `expected` says: objects need only the expected keys,
    /// recursively; arrays and scalars must be equal.
    public static func contains(_ actual: JSONValue, _ expected: JSONValue) -> Bool {
        matches(expected, actual, subset: true)
    }

    private static func matches(_ expected: JSONValue, _ actual: JSONValue, subset: Bool) -> Bool {
        switch (expected, actual) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.number(let x), .number(let y)): return canonicalDecimal(x.literal) == canonicalDecimal(y.literal)
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { subset ? matches($0, $1, subset: true) : equal($0, $1) }
        case (.object(let x), .object(let y)):
            if !subset { return equal(expected, actual) }
            return x.members.allSatisfy { member in y[member.key].map { matches(member.value, $0, subset: true) } ?? false }
        default: return false
        }
    }

    /// `actual` with `expected`'s values put in place: what the actual value would be if it held
    /// every expected field, so a line diff against it shows only the fields that differ.
    public static func overlay(_ expected: JSONValue, on actual: JSONValue) -> JSONValue {
        guard case .object(let wanted) = expected, case .object(var result) = actual else {
            return contains(actual, expected) ? actual : expected
        }
        for member in wanted.members {
            result[member.key] = result[member.key].map { overlay(member.value, on: $0) } ?? member.value
        }
        return .object(result)
    }

    /// A decimal literal reduced to one spelling per value: sign, significant digits without
    /// leading or trailing zeros, and a power of ten (`-0.050` and `-5e-2` both give `-5e-2`).
    static func canonicalDecimal(_ literal: String) -> String {
        var text = Substring(literal)
        var negative = false
        if text.first == "-" {
            negative = true
            text = text.dropFirst()
        }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...].replacing("+", with: "")) ?? 0
            text = text[..<e]
        }
        var digits = ""
        if let dot = text.firstIndex(of: ".") {
            let fraction = text[text.index(after: dot)...]
            digits = String(text[..<dot]) + fraction
            exponent -= fraction.count
        } else {
            digits = String(text)
        }
        let trimmedLeading = digits.drop { $0 == "0" }
        guard !trimmedLeading.isEmpty else { return "0" }
        var significant = String(trimmedLeading)
        while significant.last == "0" {
            significant.removeLast()
            exponent += 1
        }
        return (negative ? "-" : "") + significant + "e" + String(exponent)
    }

    /// A line diff of two texts: unchanged lines start with two spaces, lines only in `expected`
    /// with `- `, lines only in `actual` with `+ `. Runs of more than `context` unchanged lines
    /// between changes are cut to `…`.
    public static func lineDiff(expected: String, actual: String, context: Int = 3) -> String {
        let old = expected.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let new = actual.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var lines: [(mark: Character, text: String)] = []
        if old.count * new.count > 4_000_000 {
            // Too large for the table below: show both whole.
            lines = old.map { ("-", $0) } + new.map { ("+", $0) }
        } else {
            // Longest common subsequence, filled from the end so the walk below goes forwards.
            var table = [[Int]](repeating: [Int](repeating: 0, count: new.count + 1), count: old.count + 1)
            for i in stride(from: old.count - 1, through: 0, by: -1) {
                for j in stride(from: new.count - 1, through: 0, by: -1) {
                    table[i][j] = old[i] == new[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
                }
            }
            var i = 0
            var j = 0
            while i < old.count || j < new.count {
                if i < old.count, j < new.count, old[i] == new[j] {
                    lines.append((" ", old[i]))
                    i += 1
                    j += 1
                } else if i < old.count, j == new.count || table[i + 1][j] >= table[i][j + 1] {
                    lines.append(("-", old[i]))
                    i += 1
                } else {
                    lines.append(("+", new[j]))
                    j += 1
                }
            }
        }
        let changed = lines.indices.filter { lines[$0].mark != " " }
        var out: [String] = []
        var skipping = false
        for (index, line) in lines.enumerated() {
            let near = changed.contains { abs($0 - index) <= context }
            if line.mark != " " || near {
                out.append("\(line.mark) \(line.text)")
                skipping = false
            } else if !skipping {
                out.append("  …")
                skipping = true
            }
        }
        return out.joined(separator: "\n")
    }
}
