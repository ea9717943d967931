extension ConfigReader {
    /// Converts a YAML value to JSON with the YAML 1.2 core schema: plain `null`/`~`, `true`/`false`
    /// and numbers become JSON literals; quoted scalars are always strings. String values may use
    /// `${VAR}` unless `interpolate` is false (pipeline tests compare values as written).
    public func jsonValue(_ node: YAMLNode, what: String, interpolate: Bool = true) -> JSONValue? {
        switch node.content {
        case .scalar(let text, let style):
            if style == .plain {
                switch text {
                case "", "~", "null", "Null", "NULL": return .null
                case "true", "True", "TRUE": return .bool(true)
                case "false", "False", "FALSE": return .bool(false)
                default:
                    if Self.isJSONNumber(text) { return .number(JSONNumber(literal: text)) }
                }
            }
            return (interpolate ? string(node, what: what) : text).map(JSONValue.string)
        case .sequence(let items):
            var values: [JSONValue] = []
            for item in items {
                guard let value = jsonValue(item, what: what, interpolate: interpolate) else { return nil }
                values.append(value)
            }
            return .array(values)
        case .mapping:
            guard let mapping = mapping(node, allowedKeys: nil, in: what) else { return nil }
            var object = JSONObject()
            for entry in mapping.entries {
                guard let value = jsonValue(entry.value, what: what, interpolate: interpolate) else { return nil }
                object.members.append(JSONObject.Member(key: entry.key, value: value))
            }
            return .object(object)
        }
    }

    /// JSON number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    static func isJSONNumber(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        func digits() -> Int {
            let n = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }.count
            bytes = bytes.dropFirst(n)
            return n
        }
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        if bytes.first == UInt8(ascii: "0") {
            bytes = bytes.dropFirst()
        } else if digits() == 0 {
            return false
        }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            if digits() == 0 { return false }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            if digits() == 0 { return false }
        }
        return bytes.isEmpty
    }
}
