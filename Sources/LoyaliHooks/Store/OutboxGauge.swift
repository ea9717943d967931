/// How many deliveries of one (pipeline, sink) wait in the outbox and how many have failed.
public struct OutboxGauge: Sendable, Hashable {
    /// The pipeline's name.
    public var pipeline: String
    /// The sink's name.
    public var sink: String
    /// Pending or retrying: the queue still to be sent.
    public var waiting: Int
    /// Failed for good (resendable).
    public var failed: Int
}
