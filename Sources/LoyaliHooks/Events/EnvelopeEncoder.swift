/// Serializes the delivered envelope, `{"id":…,"event_type":…,"created_at":…,"data":…}`, in the
/// guide's key order.
///
/// Every sink of a pipeline gets the same envelope except for its `id`, so the part after the id
/// is serialized once per event and reused for each sink.
public struct EnvelopeEncoder: Sendable {
    /// `","event_type":…,"data":{…}}` for one event after transforms.
    private let tail: [UInt8]

    /// Prepares the shared part of `envelope`.
    public init(_ envelope: EventEnvelope) {
        var tail: [UInt8] = []
        tail.reserveCapacity(256)
        tail += #"","event_type":"#.utf8
        JSONValue.appendJSONString(envelope.eventType, to: &tail)
        tail += #","created_at":"#.utf8
        JSONValue.appendJSONString(envelope.createdAt, to: &tail)
        tail += #","data":"#.utf8
        envelope.data.serialize(into: &tail)
        tail.append(UInt8(ascii: "}"))
        self.tail = tail
    }

    /// The body for the delivery `deliveryID` (a `whd_` id, which needs no escaping).
    public func body(deliveryID: String) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(tail.count + deliveryID.utf8.count + 8)
        body += #"{"id":""#.utf8
        body += deliveryID.utf8
        body += tail
        return body
    }
}
