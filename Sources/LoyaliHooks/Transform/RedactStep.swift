/// `redact`: replaces present fields with `"[REDACTED]"`, keeping the key so receivers see that a
/// value existed.
///
/// ```yaml
/// - redact: [data.customer_email]
/// ```
public struct RedactStep: TransformStep {
    public let name = "redact"
    /// The fields redacted.
    public let paths: [FieldPath]
    /// The replacement text.
    public static let placeholder = JSONValue.string("[REDACTED]")

    public func apply(to envelope: inout EventEnvelope) throws(TransformFailure) -> TransformOutcome {
        for path in paths { envelope.data.updateValue(at: path.segments[...]) { _ in Self.placeholder } }
        return .keep
    }

    /// Registry entry.
    public static let factory = TransformStepFactory(
        name: "redact", summary: "replace fields with \"[REDACTED]\": [data.customer_email]", value: .paths
    ) { value, reader in
        reader.fieldPaths(value, what: "redact").map { RedactStep(paths: $0) }
    }
}
