extension JSONObject: ExpressibleByDictionaryLiteral {
    /// An object written as a literal, members in the order written: for JSON built in code,
    /// such as the pipeline schema.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements.map { Member(key: $0.0, value: $0.1) })
    }
}
