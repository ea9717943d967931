/// `set`: writes static values at dotted paths, creating objects along the way.
///
/// ```yaml
/// - set: { data.program: gold-rewards, data.source: "${REGION:-eu}" }
/// ```
public struct SetStep: TransformStep {
    public let name = "set"
    /// Paths and the values written there, in file order.
    public let assignments: [(path: FieldPath, value: JSONValue)]

    public func apply(to envelope: inout EventEnvelope) throws(TransformFailure) -> TransformOutcome {
        for (path, value) in assignments where !envelope.data.setValue(value, at: path.segments[...]) {
            throw TransformFailure(step: name, reason: "cannot set \(path): a non-object value is in the way")
        }
        return .keep
    }

    /// Registry entry.
    public static let factory = TransformStepFactory(
        name: "set", summary: "write static values at dotted paths: { data.program: gold }", value: .valueMap
    ) { value, reader in
        guard let mapping = reader.mapping(value, allowedKeys: nil, in: "set") else { return nil }
        var assignments: [(FieldPath, JSONValue)] = []
        for entry in mapping.entries {
            guard let path = reader.fieldPath(entry.keyNode, what: "set"),
                let json = reader.jsonValue(entry.value, what: "value of \(entry.key)")
            else { continue }
            assignments.append((path, json))
        }
        return assignments.count == mapping.entries.count ? SetStep(assignments: assignments) : nil
    }
}
