/// The guide's healthy ranges for one sink's figures: success rate above 99%, latency under
/// 500 ms, retry rate under 5%, no failed deliveries. `nil` where there is nothing to judge yet.
public struct SinkHealth: Sendable, Equatable {
    /// Success rate above 99%.
    public let successRate: Bool?
    /// Retry rate below 5%.
    public let retryRate: Bool?
    /// No failed deliveries.
    public let failed: Bool

    /// Judges `row`.
    public init(_ row: SinkStats) {
        successRate = row.successRate.map { $0 > 0.99 }
        retryRate = row.retryRate.map { $0 < 0.05 }
        failed = row.failed == 0
    }

    /// A latency figure under 500 ms.
    public func latency(_ ms: Int64?) -> Bool? { ms.map { $0 < 500 } }
}
