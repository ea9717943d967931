/// `remove`: deletes fields; a missing field is not an error.
///
/// ```yaml
/// - remove: [data.internal_notes]
/// ```
public struct RemoveStep: TransformStep {
    public let name = "remove"
    /// The fields removed.
    public let paths: [FieldPath]

    public func apply(to envelope: inout EventEnvelope) throws(TransformFailure) -> TransformOutcome {
        for path in paths { envelope.data.removeValue(at: path.segments[...]) }
        return .keep
    }

    /// Registry entry.
    public static let factory = TransformStepFactory(
        name: "remove", summary: "delete fields: [data.internal_notes]", value: .paths
    ) { value, reader in
        reader.fieldPaths(value, what: "remove").map { RemoveStep(paths: $0) }
    }
}
