/// Counted nouns in messages: "1 delivery", "3 deliveries", "0 errors", never "1 deliveries" or
/// "2 error(s)".
public enum Plural {
    /// `count` and the noun in the form that agrees with it; `plural` defaults to `singular + "s"`.
    public static func count(_ count: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(count) \(count == 1 ? singular : plural ?? singular + "s")"
    }
}
