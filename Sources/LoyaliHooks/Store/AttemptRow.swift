/// One attempt from the log, as ``DeliveryStore/detail(id:)`` returns it for the timeline: exactly the
/// ``AttemptRecord`` that was written, so the two can never drift apart.
public typealias AttemptRow = AttemptRecord
