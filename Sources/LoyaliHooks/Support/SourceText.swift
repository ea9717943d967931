/// The lines of a source file, for quoting the offending line under a diagnostic.
///
/// Lines break where libyaml breaks them (`\n`, `\r\n`, `\r`, U+0085, U+2028, U+2029) so that the
/// line numbers in YAML marks and the text shown here always agree. A leading byte-order mark is
/// dropped because libyaml does not count it as a column either.
public struct SourceText: Sendable {
    private let lines: [String]
    /// Per line: whether it is pure ASCII, where scalar and character columns agree.
    private let asciiLines: [Bool]

    /// Splits `text` into lines.
    public init(_ text: String) {
        var lines: [String] = []
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        if start < scalars.endIndex, scalars[start] == "\u{FEFF}" {
            start = scalars.index(after: start)
        }
        var index = start
        while index < scalars.endIndex {
            let scalar = scalars[index]
            guard SourceText.isLineBreak(scalar) else {
                index = scalars.index(after: index)
                continue
            }
            lines.append(String(scalars[start..<index]))
            index = scalars.index(after: index)
            if scalar == "\r", index < scalars.endIndex, scalars[index] == "\n" {
                index = scalars.index(after: index)
            }
            start = index
        }
        if start < scalars.endIndex {
            lines.append(String(scalars[start...]))
        }
        self.lines = lines
        asciiLines = lines.map { $0.utf8.allSatisfy { $0 < 0x80 } }
    }

    /// The number of lines; a final line break does not start another line.
    public var lineCount: Int { lines.count }

    /// The text of 1-based line `n` without its line break, or `nil` past the end.
    public func line(_ n: Int) -> String? {
        lines.indices.contains(n - 1) ? lines[n - 1] : nil
    }

    /// Converts a 1-based column counted in Unicode scalars (how libyaml counts) into one counted in
    /// `Character`s (how `SourceLocation` and the diagnostic caret count), so a decomposed `é` or a
    /// multi-scalar emoji before the column moves the caret by one, not by two or more.
    func characterColumn(line n: Int, scalarColumn: Int) -> Int {
        guard let text = line(n), scalarColumn > 1, !asciiLines[n - 1] else { return scalarColumn }
        let scalars = text.unicodeScalars
        let inLine = min(scalarColumn - 1, scalars.count)
        let prefix = String(String.UnicodeScalarView(scalars.prefix(inLine)))
        return prefix.count + (scalarColumn - 1 - inLine) + 1
    }

    static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}": true
        default: false
        }
    }
}
