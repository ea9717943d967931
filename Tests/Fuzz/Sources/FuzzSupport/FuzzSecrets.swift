/// Secrets the targets sign and verify with. `whsec_` + base64, so both schemes accept them;
/// made up for fuzzing, never used anywhere else.
public enum FuzzSecrets {
    /// The current secret.
    public static let current = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    /// The previous secret, for rotation.
    public static let previous = "whsec_ZnV6emluZy1wcmV2aW91cy1zZWNyZXQtMDE="
    /// A third secret for the second pipeline of the dry-run target.
    public static let other = "whsec_b3RoZXItZnV6ei1waXBlbGluZS1zZWNyZXQ="

    /// The variables pipelines may reference, as a loader's environment.
    public static let environment: [String: String] = [
        "FUZZ_SECRET": current,
        "FUZZ_SECRET_PREVIOUS": previous,
        "FUZZ_OTHER_SECRET": other,
        "FUZZ_URL_TOKEN": "fuzz-url-token-value",
        "LOYALI_EVENTS": "/nonexistent/fuzz-events.jsonl",
    ]
}
