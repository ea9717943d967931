/// Counts from one run, printed at the end and used for the exit code.
public struct RunSummary: Sendable, Equatable {
    /// Lines read that held an event (blank lines are not counted).
    public var eventsRead = 0
    /// Lines refused by the input contract.
    public var rejected = 0
    /// Deliveries made (or, in a dry run, printed).
    public var delivered = 0
    /// Deliveries that failed (transform or sink failure).
    public var failed = 0
    /// Events a transform step dropped, per pipeline.
    public var dropped = 0

    public init() {}

    /// Whether anything went wrong: the CLI exits 1 then.
    public var hasFailures: Bool { rejected > 0 || failed > 0 }
}

extension RunSummary {
    /// Adds another summary's counts to this one.
    public mutating func add(_ other: RunSummary) {
        eventsRead += other.eventsRead
        rejected += other.rejected
        delivered += other.delivered
        failed += other.failed
        dropped += other.dropped
    }
}
