/// The guide's healthy ranges for one sink's figures: success rate above 99%, latency under
/// 500 ms, retry rate under 5%, no failed deliveries. `nil` where there is nothing to judge yet.
///
/// Success rate and failed deliveries are judged on settled deliveries (succeeded or failed). While
/// some are still pending, retrying or in flight, a good figure is not final (the unsettled ones
/// may still fail), so it is `nil`, shown as ⏳, never ✅; a bad one is already bad.
public struct SinkHealth: Sendable, Equatable {
    /// Success rate above 99%; `nil` when nothing settled, or when it is good so far but deliveries
    /// are still unsettled.
    public let successRate: Bool?
    /// Retry rate below 5%.
    public let retryRate: Bool?
    /// No failed deliveries; `nil` when none failed so far but deliveries are still unsettled.
    public let failed: Bool?
    /// Deliveries not settled yet: pending, retrying or in flight.
    public let unsettled: Int

    /// Judges `row`.
    public init(_ row: SinkStats) {
        unsettled = row.pending + row.retrying + row.inFlight
        let final = unsettled == 0
        successRate = row.successRate.flatMap { $0 > 0.99 ? (final ? true : nil) : false }
        retryRate = row.retryRate.map { $0 < 0.05 }
        failed = row.failed > 0 ? false : final ? true : nil
    }

    /// A latency figure under 500 ms.
    public func latency(_ ms: Int64?) -> Bool? { ms.map { $0 < 500 } }
}
