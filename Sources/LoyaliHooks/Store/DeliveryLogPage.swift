/// One page of the delivery log (the dashboard's keyset paging): rows with the newest activity
/// first and the cursor of the next, older page.
public struct DeliveryLogPage: Sendable, Equatable {
    /// The rows, most recent activity (`updated_at`) first, then the most recently enqueued.
    public var rows: [DeliverySummary]
    /// Pass as `before` for the next page; `nil` on the last page.
    public var next: DeliveryLogCursor?
    /// How long each row's latest attempt took, in ms (`nil` before the first attempt).
    public var lastDurationsMs: [Int64?]

    /// A page from its parts.
    public init(rows: [DeliverySummary], next: DeliveryLogCursor?, lastDurationsMs: [Int64?]) {
        self.rows = rows
        self.next = next
        self.lastDurationsMs = lastDurationsMs
    }
}
