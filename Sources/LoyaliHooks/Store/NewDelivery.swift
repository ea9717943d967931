/// A delivery to put in the outbox: one (event, pipeline, sink), before any attempt.
public struct NewDelivery: Sendable, Hashable {
    /// The deterministic `whd_` id (see `DeliveryID`); the store keeps at most one row per id.
    public var id: String
    /// The pipeline's name.
    public var pipeline: String
    /// The sink's name within the pipeline.
    public var sink: String
    /// The source event's id.
    public var eventID: String
    /// The event type, e.g. `tier.upgraded`.
    public var eventType: String
    /// The unsigned envelope bytes; each attempt signs them afresh at send time.
    public var body: [UInt8]
    /// The sink's retry delays in ms, one per attempt, e.g. `[0, 60000, 300000, 1800000, 7200000]`.
    /// Must not be empty: the first delay sets when the first attempt is due.
    public var schedule: [Int64]
    /// When the delivery was made, ms since the Unix epoch.
    public var createdAtMs: Int64
    /// Set when the pipeline's transform steps failed for this event: the delivery is stored as
    /// `failed` with this reason (its body is then a ``PlanningMarker`` body, see there).
    public var planningFailure: String?
    /// The event's key when the sink has `ordering:` (see ``DeliveryOrdering``): the store claims
    /// such a delivery only while no earlier delivery of the same sink and key is pending,
    /// retrying or in flight. `nil`: no order to keep.
    public var orderKey: String?

    /// Makes a delivery from its parts.
    public init(
        id: String, pipeline: String, sink: String, eventID: String, eventType: String,
        body: [UInt8], schedule: [Int64], createdAtMs: Int64, planningFailure: String? = nil, orderKey: String? = nil
    ) {
        self.planningFailure = planningFailure
        self.orderKey = orderKey
        self.id = id
        self.pipeline = pipeline
        self.sink = sink
        self.eventID = eventID
        self.eventType = eventType
        self.body = body
        self.schedule = schedule
        self.createdAtMs = createdAtMs
    }

    /// Whether its first attempt is due the moment it is stored (and it is to be sent at all):
    /// only such a delivery may be stored already claimed. An ordered one is claimed so only when
    /// the store finds it is its key's head (see ``DeliveryStore/enqueue(_:checkpoint:nowMs:claiming:)``).
    var isDueAtOnce: Bool { planningFailure == nil && schedule.first == 0 }
}
