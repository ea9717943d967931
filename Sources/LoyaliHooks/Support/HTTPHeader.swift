/// One HTTP header field as sent on the wire, in the order the sender adds it.
public struct HTTPHeader: Sendable, Equatable {
    /// The field name, e.g. `X-Loyali-Signature`.
    public var name: String
    /// The field value, without surrounding whitespace.
    public var value: String

    /// A header `name: value`.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
