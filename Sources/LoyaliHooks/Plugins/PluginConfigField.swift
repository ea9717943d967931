/// One typed option a plugin declares under `config:` in its manifest, and the checks a
/// pipeline's value for it must pass.
///
/// ```yaml
/// config:
///   path: { type: string, required: true, description: CSV file to append to }
///   columns: { type: list, default: [delivery_id, event_type], description: Columns, in order }
/// ```
public struct PluginConfigField: Sendable, Equatable {
    /// The JSON type a value must have.
    public enum FieldType: String, Sendable, CaseIterable {
        /// Any scalar, sent as a JSON string (`${VAR}` is expanded).
        case string
        /// A whole number, sent as a JSON number.
        case integer
        /// Any JSON number.
        case number
        /// `true` or `false`.
        case boolean
        /// A YAML sequence, sent as a JSON array.
        case list
        /// A YAML mapping, sent as a JSON object.
        case object
    }

    /// The option's key.
    public var name: String
    /// The type a value must have.
    public var type: FieldType
    /// Whether a pipeline must give it.
    public var required: Bool
    /// The value used when a pipeline does not give one; `nil` leaves it out of `init`.
    public var defaultValue: JSONValue?
    /// One line for people.
    public var description: String

    /// A field; `defaultValue` must already have `type`.
    public init(name: String, type: FieldType, required: Bool = false, defaultValue: JSONValue? = nil, description: String = "") {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.description = description
    }

    /// Reads `node` as a value of this field's type, reporting a wrong type at the node.
    /// `what` names it in messages, e.g. `config.path of plugin 'csv-analytics'`.
    public func value(from node: YAMLNode, reader: ConfigReader, what: String) -> JSONValue? {
        switch type {
        case .string:
            guard case .scalar = node.content, !node.isNull else {
                reader.error("\(what) must be a string, not \(node.kindName)", at: node)
                return nil
            }
            return reader.string(node, what: what).map(JSONValue.string)
        case .integer, .number, .boolean:
            guard case .scalar = node.content, !node.isNull else {
                reader.error("\(what) must be \(type == .boolean ? "true or false" : "a\(type == .integer ? "n integer" : " number")"), not \(node.kindName)", at: node)
                return nil
            }
            guard let text = reader.string(node, what: what) else { return nil }
            switch type {
            case .integer:
                guard Int64(text) != nil else {
                    reader.error("\(what) must be an integer, not \(reader.quoted(node, text))", at: node)
                    return nil
                }
                return .number(JSONNumber(literal: String(Int64(text)!)))
            case .number:
                guard ConfigReader.isJSONNumber(text) else {
                    reader.error("\(what) must be a number, not \(reader.quoted(node, text))", at: node)
                    return nil
                }
                return .number(JSONNumber(literal: text))
            default:
                switch text {
                case "true", "True", "TRUE": return .bool(true)
                case "false", "False", "FALSE": return .bool(false)
                default:
                    reader.error("\(what) must be true or false, not \(reader.quoted(node, text))", at: node)
                    return nil
                }
            }
        case .list:
            guard case .sequence = node.content else {
                reader.error("\(what) must be a list, not \(node.kindName)", at: node)
                return nil
            }
            return reader.jsonValue(node, what: what)
        case .object:
            guard case .mapping = node.content else {
                reader.error("\(what) must be a mapping, not \(node.kindName)", at: node)
                return nil
            }
            return reader.jsonValue(node, what: what)
        }
    }
}
