/// Where a page of the delivery log ends, for keyset paging: the last row's latest activity
/// (`updated_at`) and its enqueue order (`seq`). The log is sorted by both, newest activity first,
/// so the next page is every row strictly before this one in that order, and costs the same
/// however deep it is.
///
/// Its text form (the API's `next` and `before`) is `UPDATED_AT_SEQ`, e.g. `1733590800000_81234`;
/// clients pass it back as they got it.
public struct DeliveryLogCursor: Sendable, Hashable {
    /// The row's `updated_at`, ms since the Unix epoch.
    public var updatedAtMs: Int64
    /// The row's enqueue order (`seq`), which breaks ties between rows updated in the same ms.
    public var sequence: Int64

    /// A cursor after the row with these values.
    public init(updatedAtMs: Int64, sequence: Int64) {
        self.updatedAtMs = updatedAtMs
        self.sequence = sequence
    }

    /// The text clients pass back as `before`.
    public var text: String { "\(updatedAtMs)_\(sequence)" }

    /// Reads ``text``; `nil` for anything else.
    public init?(text: String) {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, let updated = Int64(parts[0]), let sequence = Int64(parts[1]), sequence > 0 else { return nil }
        self.init(updatedAtMs: updated, sequence: sequence)
    }
}
