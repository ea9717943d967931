/// The lines of a source file, for quoting the offending line under a diagnostic.
///
/// Lines break where libyaml breaks them (`\n`, `\r\n`, `\r`, U+0085, U+2028, U+2029) so that the
/// line numbers in YAML marks and the text shown here always agree. A leading byte-order mark is
/// dropped because libyaml does not count it as a column either.
public struct SourceText: Sendable {
    private let lines: [String]
    /// Per line, ascending: the 0-based scalar offsets of the scalars that continue a `Character`
    /// (a combining accent, the rest of an emoji sequence). Empty for most lines, where scalar and
    /// character columns agree; found once here so that converting a column is a binary search,
    /// not a rescan of the line for every node on it (which made long non-ASCII lines quadratic).
    private let continuationOffsets: [[Int]]

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
        continuationOffsets = lines.map(SourceText.continuationOffsets(in:))
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
        guard lines.indices.contains(n - 1), scalarColumn > 1 else { return scalarColumn }
        let offsets = continuationOffsets[n - 1]
        guard !offsets.isEmpty else { return scalarColumn }
        // Every continuation scalar before the column shares a character with the one before it.
        var low = 0
        var high = offsets.count
        while low < high {
            let middle = (low + high) / 2
            if offsets[middle] < scalarColumn - 1 { low = middle + 1 } else { high = middle }
        }
        return scalarColumn - low
    }

    private static func continuationOffsets(in line: String) -> [Int] {
        guard !line.utf8.allSatisfy({ $0 < 0x80 }) else { return [] }
        var offsets: [Int] = []
        var offset = 0
        for character in line {
            let count = character.unicodeScalars.count
            if count > 1 { offsets.append(contentsOf: (offset + 1)..<(offset + count)) }
            offset += count
        }
        return offsets
    }

    static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}": true
        default: false
        }
    }
}
