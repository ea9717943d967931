/// One node of a parsed YAML document, with the place it starts in the source.
///
/// Scalars stay strings: the config loader decides what a value means from where it appears, so
/// `on` stays `"on"` rather than becoming a YAML 1.1 boolean. Mapping pairs keep their source order
/// and duplicates are kept so the loader can report both places.
public struct YAMLNode: Sendable, Equatable {
    /// How a scalar was written.
    public enum ScalarStyle: Sendable, Equatable {
        /// `value`
        case plain
        /// `'value'`
        case singleQuoted
        /// `"value"`
        case doubleQuoted
        /// `|` block
        case literal
        /// `>` block
        case folded
    }

    /// One `key: value` entry of a mapping.
    public struct Pair: Sendable, Equatable {
        /// The key node; usually a scalar, but YAML allows any node.
        public var key: YAMLNode
        /// The value node.
        public var value: YAMLNode

        /// Creates a pair.
        public init(key: YAMLNode, value: YAMLNode) {
            self.key = key
            self.value = value
        }
    }

    /// What the node holds.
    public enum Content: Sendable, Equatable {
        /// A scalar's text (after unescaping and folding) and how it was written.
        case scalar(String, ScalarStyle)
        /// The items of a sequence, in order.
        case sequence([YAMLNode])
        /// The pairs of a mapping, in source order, duplicates included.
        case mapping([Pair])
    }

    /// What the node holds.
    public var content: Content
    /// Where the node starts, as libyaml marks it: its tag or anchor when it has one, else a
    /// scalar's first character (or opening quote, `|`, `>`), a flow collection's bracket, a block
    /// collection's first key or `-`. An alias's copy keeps the anchored node's location.
    public var location: SourceLocation
    /// The explicit tag, in shorthand form when it is a standard one (`!!str`, `!!int`), or `nil`.
    public var tag: String?

    /// Creates a node.
    public init(_ content: Content, at location: SourceLocation, tag: String? = nil) {
        self.content = content
        self.location = location
        self.tag = tag
    }

    /// The scalar text, or `nil` for a collection.
    public var scalar: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }

    /// The sequence items, or `nil` for anything else.
    public var sequence: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    /// The mapping pairs, or `nil` for anything else.
    public var mapping: [Pair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    /// The value of the first pair whose key is the scalar `key`, or `nil`.
    public func value(forKey key: String) -> YAMLNode? {
        mapping?.first { $0.key.scalar == key }?.value
    }

    /// The key node of the first pair whose key is the scalar `key`, or `nil`: where a diagnostic
    /// about that entry as a whole points.
    public func key(named key: String) -> YAMLNode? {
        mapping?.first { $0.key.scalar == key }?.key
    }

    /// Whether this is YAML's null: an empty or `~`/`null` plain scalar, or one tagged `!!null`.
    /// A quoted `"null"` or a `!!str null` is a string.
    public var isNull: Bool {
        guard case .scalar(let text, let style) = content else { return false }
        if tag == "!!null" { return true }
        guard tag == nil, style == .plain else { return false }
        return YAMLNode.nullWords.contains(text)
    }

    /// A word for the kind of node, for messages such as "expected a mapping, found a sequence":
    /// `mapping`, `sequence`, `null`, `boolean`, `number` or `string`. Only untagged plain scalars
    /// are ever called booleans or numbers (YAML 1.2 core schema spellings).
    public var kindName: String {
        switch content {
        case .mapping: return "mapping"
        case .sequence: return "sequence"
        case .scalar(let text, let style):
            if isNull { return "null" }
            guard tag == nil, style == .plain else { return "string" }
            if YAMLNode.booleanWords.contains(text) { return "boolean" }
            if YAMLNode.looksNumeric(text) { return "number" }
            return "string"
        }
    }

    private static let nullWords: Set<String> = ["", "~", "null", "Null", "NULL"]
    private static let booleanWords: Set<String> = [
        "true", "True", "TRUE", "false", "False", "FALSE",
    ]
    private static let specialFloats: Set<String> = [
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
        ".nan", ".NaN", ".NAN",
    ]

    private static func looksNumeric(_ text: String) -> Bool {
        if specialFloats.contains(text) { return true }
        // Swift's parsers also accept words such as "nan" and "infinity"; YAML does not, so the
        // text must start like a number before asking them.
        let body = text.first == "+" || text.first == "-" ? text.dropFirst() : Substring(text)
        guard let first = body.first, first.isASCII, first.isNumber || first == "." else {
            return false
        }
        if body.hasPrefix("0x") || body.hasPrefix("0o") {
            return Int(body.dropFirst(2), radix: body.hasPrefix("0x") ? 16 : 8) != nil
        }
        return Int(text) != nil || Double(text) != nil
    }
}
