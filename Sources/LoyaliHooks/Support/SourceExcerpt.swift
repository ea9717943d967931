/// The part of a source line quoted under a diagnostic: at most ``width`` characters around the
/// column, with `…` where the line was cut, and the caret's column within that text.
///
/// A diagnostic quotes a window rather than the whole line because a pipeline file can be one
/// line of many megabytes: quoting it whole printed as much again, and kept a copy alive for as
/// long as the diagnostic (or the plugin step that may report one later) lived.
public struct SourceExcerpt: Sendable, Hashable {
    /// How many characters of the line are quoted at most, markers aside.
    public static let width = 120
    /// Of those, how many come before the column when the line is cut.
    static let lead = 60

    /// The quoted text: tabs shown as one space so the caret lines up.
    public let text: String
    /// The 1-based column of the caret within `text`.
    public let caretColumn: Int

    /// The window of `line` around 1-based character `column`.
    public init(line: String, column: Int) {
        let column = max(1, column)
        let skipped = max(0, column - 1 - Self.lead)
        guard let start = line.index(line.startIndex, offsetBy: skipped, limitedBy: line.endIndex) else {
            // The column lies past the end of the line (libyaml marks "end of line" there): quote
            // the line's tail and put the caret just after it.
            let tailStart = line.index(line.endIndex, offsetBy: -Self.lead, limitedBy: line.startIndex) ?? line.startIndex
            let shown = (tailStart > line.startIndex ? "…" : "") + Self.showingTabs(line[tailStart...])
            self.init(text: shown, caretColumn: shown.count + 1)
            return
        }
        let end = line.index(start, offsetBy: Self.width, limitedBy: line.endIndex) ?? line.endIndex
        let head = skipped > 0 ? "…" : ""
        let body = Self.showingTabs(line[start..<end])
        let tail = end < line.endIndex ? "…" : ""
        let caret = head.count + (column - skipped)
        self.init(text: head + body + tail, caretColumn: min(caret, head.count + body.count + 1))
    }

    /// An excerpt already cut.
    public init(text: String, caretColumn: Int) {
        self.text = text
        self.caretColumn = max(1, caretColumn)
    }

    /// Tabs become one space so the caret under a column still lines up.
    private static func showingTabs(_ text: Substring) -> String {
        String(text.map { $0 == "\t" ? " " : $0 })
    }
}
