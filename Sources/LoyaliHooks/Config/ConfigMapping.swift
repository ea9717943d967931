/// A YAML mapping read by ``ConfigReader``: its entries in order, duplicates and unknown keys
/// already reported and removed.
public struct ConfigMapping {
    /// One `key: value` entry.
    public struct Entry {
        public var key: String
        public var keyNode: YAMLNode
        public var value: YAMLNode
    }

    /// The mapping node itself.
    public var node: YAMLNode
    /// The key that names this mapping (`hook:` above a sink's options), when the reader was told;
    /// "missing key" errors point there, since a block mapping's own node starts at its first key,
    /// which is about something else.
    public var nameNode: YAMLNode?
    /// Entries in file order.
    public var entries: [Entry]

    /// The value node for `key`.
    public subscript(key: String) -> YAMLNode? {
        entries.first { $0.key == key }?.value
    }
}
