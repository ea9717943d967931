/// A delivery handed to a runner by ``DeliveryStore/claimDue(sinkKey:nowMs:limit:window:)``; it is `in_flight` until the runner
/// records the attempt's outcome.
public struct ClaimedDelivery: Sendable, Hashable {
    /// The `whd_` id, the same on every attempt.
    public var id: String
    /// The pipeline's name.
    public var pipeline: String
    /// The sink's name.
    public var sink: String
    /// The source event's id.
    public var eventID: String
    /// The event type.
    public var eventType: String
    /// The unsigned envelope bytes.
    public var body: [UInt8]
    /// The number of this attempt, 1-based; it keeps counting up across manual resends.
    public var attempt: Int
    /// The retry delays in ms the delivery was created with.
    public var schedule: [Int64]
    /// Attempts made before the last manual resend. The schedule restarts at a resend, so this
    /// attempt's place in the schedule is `attempt - scheduleOffset` (1-based): the delay before
    /// a next attempt is `schedule[attempt - scheduleOffset]`, and there is none when that index
    /// is past the end.
    public var scheduleOffset: Int

    /// Makes a claimed delivery from its parts.
    public init(
        id: String, pipeline: String, sink: String, eventID: String, eventType: String,
        body: [UInt8], attempt: Int, schedule: [Int64], scheduleOffset: Int
    ) {
        self.id = id
        self.pipeline = pipeline
        self.sink = sink
        self.eventID = eventID
        self.eventType = eventType
        self.body = body
        self.attempt = attempt
        self.schedule = schedule
        self.scheduleOffset = scheduleOffset
    }

    /// The first attempt at a delivery just stored as claimed (see ``DeliveryStore/enqueue(_:checkpoint:nowMs:claiming:)``).
    init(firstAttemptOf delivery: NewDelivery) {
        self.init(
            id: delivery.id, pipeline: delivery.pipeline, sink: delivery.sink, eventID: delivery.eventID,
            eventType: delivery.eventType, body: delivery.body, attempt: 1, schedule: delivery.schedule, scheduleOffset: 0)
    }
}
