import CYaml

/// Entry point for reading YAML: text in, one node tree per document out.
public enum YAMLDocument {
    /// The most nodes one stream may expand to, counting every copy an alias makes. Stops
    /// "billion laughs" documents, where a few lines of nested aliases expand to billions of nodes.
    public static let maximumNodeCount = 100_000
    /// The deepest nesting of collections accepted; deeper trees are attacks, not configuration.
    public static let maximumDepth = 256

    /// Parses every document in `text`; `path` names the source in diagnostics.
    ///
    /// An empty stream (or one holding only comments) gives `[]`. Aliases are replaced by copies of
    /// the anchored node. Syntax errors throw a diagnostic at libyaml's problem mark.
    public static func parse(_ text: String, path: String) throws(Diagnostic) -> [YAMLNode] {
        try YAMLParser(text, path: path).parseStream()
    }
}

/// Owns one libyaml parser and turns its event stream into `YAMLNode` trees.
final class YAMLParser {
    /// A collection whose end event has not arrived yet.
    private struct OpenCollection {
        var isMapping: Bool
        var location: SourceLocation
        var tag: String?
        var anchor: String?
        /// `produced` before this collection started, so its size is known at the end.
        var producedBefore: Int
        /// Children in order; for a mapping, keys and values alternate.
        var children: [YAMLNode] = []
    }

    private let path: String
    private let source: SourceText
    private let maximumNodeCount: Int
    private let maximumDepth: Int
    /// libyaml keeps pointers into the parser struct itself and into the input, so both live at
    /// fixed heap addresses for the parser's whole life instead of in Swift-managed storage.
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>

    private var open: [OpenCollection] = []
    private var documentRoot: YAMLNode?
    /// Anchors of the current document with the node count of their subtree.
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    /// Nodes produced so far in the stream, alias copies included.
    private var produced = 0
    /// Whether any alias was expanded, to tell a "billion laughs" apart from a merely huge file.
    private var usedAliases = false

    init(
        _ text: String, path: String,
        maximumNodeCount: Int = YAMLDocument.maximumNodeCount,
        maximumDepth: Int = YAMLDocument.maximumDepth
    ) {
        self.path = path
        self.source = SourceText(text)
        self.maximumNodeCount = maximumNodeCount
        self.maximumDepth = maximumDepth
        // With the encoding set, libyaml takes a byte-order mark for content ("did not find
        // expected <document start>"); a file saved with one is still plain UTF-8 YAML.
        let utf8 = Array(text.utf8.dropFirst(text.utf8.starts(with: LineReader.byteOrderMark) ? LineReader.byteOrderMark.count : 0))
        input = .allocate(capacity: max(utf8.count, 1))
        _ = input.initialize(from: utf8)
        parser = .allocate(capacity: 1)
        // yaml_parser_initialize only fails when malloc does; there is nothing sensible to do then.
        precondition(yaml_parser_initialize(parser) == 1, "libyaml could not allocate a parser")
        yaml_parser_set_input_string(parser, input.baseAddress, utf8.count)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// Reads events up to the end of the stream; call once.
    func parseStream() throws(Diagnostic) -> [YAMLNode] {
        var documents: [YAMLNode] = []
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(parser, &event) == 1 else { throw libyamlError() }
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return documents
            case YAML_DOCUMENT_START_EVENT:
                anchors = [:]
                documentRoot = nil
            case YAML_DOCUMENT_END_EVENT:
                if let documentRoot { documents.append(documentRoot) }
            case YAML_SCALAR_EVENT:
                try scalar(event)
            case YAML_ALIAS_EVENT:
                try alias(event)
            case YAML_SEQUENCE_START_EVENT:
                let data = event.data.sequence_start
                try start(event, isMapping: false, tag: data.tag, anchor: data.anchor)
            case YAML_MAPPING_START_EVENT:
                let data = event.data.mapping_start
                try start(event, isMapping: true, tag: data.tag, anchor: data.anchor)
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                end()
            default:
                break
            }
        }
    }

    // MARK: Events

    private func scalar(_ event: yaml_event_t) throws(Diagnostic) {
        let data = event.data.scalar
        let location = location(of: event.start_mark)
        try count(1, at: location)
        let text = String(
            decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
        let node = YAMLNode(
            .scalar(text, style(data.style)), at: location, tag: shorthand(data.tag))
        finish(node, size: 1, anchor: string(data.anchor))
    }

    private func alias(_ event: yaml_event_t) throws(Diagnostic) {
        let location = location(of: event.start_mark)
        let name = string(event.data.alias.anchor) ?? ""
        guard let anchored = anchors[name] else {
            throw diagnostic(
                at: location, "unknown alias '*\(name)'; an anchor '&\(name)' must come before it")
        }
        usedAliases = true
        try count(anchored.size, at: location)
        // The copy keeps the anchored node's location: that is where its content was written.
        finish(anchored.node, size: anchored.size, anchor: nil)
    }

    private func start(
        _ event: yaml_event_t, isMapping: Bool,
        tag: UnsafeMutablePointer<yaml_char_t>?, anchor: UnsafeMutablePointer<yaml_char_t>?
    ) throws(Diagnostic) {
        let location = location(of: event.start_mark)
        guard open.count < maximumDepth else {
            throw diagnostic(at: location, "collections are nested more than \(maximumDepth) deep")
        }
        let before = produced
        try count(1, at: location)
        open.append(
            OpenCollection(
                isMapping: isMapping, location: location, tag: shorthand(tag),
                anchor: string(anchor), producedBefore: before))
    }

    private func end() {
        guard let collection = open.popLast() else { return }
        let content: YAMLNode.Content
        if collection.isMapping {
            let children = collection.children
            // libyaml always emits a value (possibly an empty scalar) after each key.
            content = .mapping(
                stride(from: 0, to: children.count - 1, by: 2).map {
                    YAMLNode.Pair(key: children[$0], value: children[$0 + 1])
                })
        } else {
            content = .sequence(collection.children)
        }
        let node = YAMLNode(content, at: collection.location, tag: collection.tag)
        finish(node, size: produced - collection.producedBefore, anchor: collection.anchor)
    }

    /// Hands a complete node to its parent, or makes it the document root.
    private func finish(_ node: YAMLNode, size: Int, anchor: String?) {
        if let anchor { anchors[anchor] = (node, size) }
        if open.isEmpty {
            documentRoot = node
        } else {
            open[open.count - 1].children.append(node)
        }
    }

    private func count(_ nodes: Int, at location: SourceLocation) throws(Diagnostic) {
        produced += nodes
        guard produced <= maximumNodeCount else {
            let hint = usedAliases ? "; are aliases nested too deeply?" : ""
            throw diagnostic(
                at: location, "document expands to more than \(maximumNodeCount) nodes\(hint)")
        }
    }

    // MARK: Conversions

    private func style(_ style: yaml_scalar_style_t) -> YAMLNode.ScalarStyle {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: .literal
        case YAML_FOLDED_SCALAR_STYLE: .folded
        default: .plain
        }
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    /// libyaml reports tags fully resolved; users wrote `!!str`, so show them that.
    private func shorthand(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let tag = string(pointer) else { return nil }
        let prefix = "tag:yaml.org,2002:"
        return tag.hasPrefix(prefix) ? "!!" + tag.dropFirst(prefix.count) : tag
    }

    /// libyaml marks are 0-based and count Unicode scalars; ours are 1-based `Character`s.
    private func location(of mark: yaml_mark_t) -> SourceLocation {
        let line = mark.line + 1
        let column = source.characterColumn(line: line, scalarColumn: mark.column + 1)
        return SourceLocation(path: path, line: line, column: column)
    }

    private func diagnostic(at location: SourceLocation, _ message: String) -> Diagnostic {
        Diagnostic(.error, at: location, message, sourceLine: source.line(location.line))
    }

    // MARK: libyaml errors

    private func libyamlError() -> Diagnostic {
        let state = parser.pointee
        let problem = state.problem.map { String(cString: $0) } ?? "invalid YAML"
        switch state.error {
        case YAML_MEMORY_ERROR:
            return Diagnostic(.error, at: nil, "out of memory while parsing \(path)")
        case YAML_READER_ERROR:
            // Reader errors carry a byte offset instead of a mark.
            var message = problem
            if state.problem_value >= 0, let bad = Unicode.Scalar(UInt32(state.problem_value)) {
                message += " (U+\(String(bad.value, radix: 16, uppercase: true).leftPadded(to: 4)))"
            }
            return diagnostic(at: location(ofByte: state.problem_offset), message)
        default:
            let at = location(of: state.problem_mark)
            var message = problem
            if let context = state.context.map({ String(cString: $0) }) {
                message += context.hasPrefix("while ") ? " " + context : " while " + context
                let started = location(of: state.context_mark)
                if started != at {
                    message += " that started at line \(started.line), column \(started.column)"
                }
            }
            if !problem.contains("tab"), isIndentingTab(at) {
                message += " (tabs cannot indent YAML; use spaces)"
            }
            return diagnostic(at: at, message)
        }
    }

    /// Whether `location` is a tab in the line's leading whitespace, the usual cause of libyaml's
    /// "found character that cannot start any token", which does not say that on its own.
    private func isIndentingTab(_ location: SourceLocation) -> Bool {
        guard let line = source.line(location.line) else { return false }
        let indent = line.prefix { $0 == " " || $0 == "\t" }
        let index = location.column - 1
        return index < indent.count && indent.dropFirst(index).first == "\t"
    }

    private func location(ofByte offset: Int) -> SourceLocation {
        let before = String(decoding: input.prefix(offset), as: UTF8.self).unicodeScalars
        var line = 1
        var column = 1
        var previous: Unicode.Scalar?
        for scalar in before {
            defer { previous = scalar }
            if scalar == "\n", previous == "\r" { continue }
            if SourceText.isLineBreak(scalar) {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        let characterColumn = source.characterColumn(line: line, scalarColumn: column)
        return SourceLocation(path: path, line: line, column: characterColumn)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
