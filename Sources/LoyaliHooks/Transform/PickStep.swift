/// `pick`: keeps only the listed fields of `data`, in the listed order; the rest is dropped.
///
/// ```yaml
/// - pick: [data.customer_id, data.amount, data.new_balance]
/// ```
public struct PickStep: TransformStep {
    public let name = "pick"
    /// The fields kept.
    public let paths: [FieldPath]

    public func apply(to envelope: inout EventEnvelope) throws(TransformFailure) -> TransformOutcome {
        var picked = JSONValue.object(JSONObject())
        for path in paths {
            if let value = envelope.data.value(at: path.segments) {
                picked.setValue(value, at: path.segments[...])
            }
        }
        envelope.data = picked
        return .keep
    }

    /// Registry entry.
    public static let factory = TransformStepFactory(
        name: "pick", summary: "keep only these fields: [data.customer_id, data.amount]", value: .paths
    ) { value, reader in
        reader.fieldPaths(value, what: "pick").map { PickStep(paths: $0) }
    }
}
