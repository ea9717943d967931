extension ConfigReader {
    /// Where character `offset` of a scalar's value is written in the file, so that an error
    /// inside a value (a `where` expression) points at its own column, on its own line when the
    /// value spans several.
    ///
    /// The value is walked against the source from the node's start: characters that match are
    /// the value's own; line breaks and indentation (folded or block scalars), the opening
    /// quote, and the escape characters of quoted scalars are skipped. Anything else (an escape
    /// such as `\n` that stands for another character) stops the walk, and the column is then
    /// counted from the node's start, which is exact for the usual one-line value.
    public func location(ofCharacter offset: Int, in node: YAMLNode) -> SourceLocation {
        guard case .scalar(let text, let style) = node.content else { return node.location }
        let value = Array(text)
        var fallback = node.location
        if style == .plain || style == .singleQuoted || style == .doubleQuoted {
            fallback.column += offset + (style == .plain ? 0 : 1)
        }
        guard !value.isEmpty else { return node.location }
        // One past the end (an error about what is missing at the end) is placed after the last
        // character.
        let target = min(offset, value.count - 1)
        let pastEnd = offset >= value.count ? 1 : 0

        var lineNumber = node.location.line
        var column = node.location.column
        if style == .literal || style == .folded {
            // The content starts on the line after the `|` or `>` header.
            lineNumber += 1
            column = 1
        }
        guard var line = source.line(lineNumber).map(Array.init) else { return fallback }
        var index = 0
        // Before the first character, anything on the node's own line may come first (a tag, an
        // anchor, the quote).
        var leading = true
        while true {
            let atLineEnd = column > line.count
            let sourceCharacter: Character = atLineEnd ? "\n" : line[column - 1]
            let wanted = value[index]
            let matches = sourceCharacter == wanted || (atLineEnd && (wanted == " " || wanted == "\n"))
            if matches {
                if index == target {
                    return SourceLocation(path: path, line: lineNumber, column: column + pastEnd)
                }
                index += 1
                leading = false
            } else if !(leading || Self.skippable(sourceCharacter, style: style)) {
                return fallback
            }
            if atLineEnd {
                lineNumber += 1
                column = 1
                guard let next = source.line(lineNumber) else { return fallback }
                line = Array(next)
            } else {
                column += 1
            }
        }
    }

    /// Source characters that stand for no character of the value.
    private static func skippable(_ character: Character, style: YAMLNode.ScalarStyle) -> Bool {
        switch character {
        case " ", "\t", "\n": true
        case "\\": style == .doubleQuoted
        case "'": style == .singleQuoted
        default: false
        }
    }
}
