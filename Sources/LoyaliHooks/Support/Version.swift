/// The loyali-hooks release, sent in `User-Agent`.
public enum LoyaliHooksVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
    /// `loyali-hooks/<version>`.
    public static let userAgent = "loyali-hooks/\(current)"
}
