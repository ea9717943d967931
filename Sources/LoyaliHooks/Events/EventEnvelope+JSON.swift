extension EventEnvelope {
    /// Appends the event in the input contract's shape, `{"id":…,"event_type":…,"created_at":…,
    /// "data":…}` with the source event id: what plugins receive and what a failed delivery keeps
    /// to be planned again.
    public func appendEventJSON(to out: inout [UInt8]) {
        out += #"{"id":"#.utf8
        JSONValue.appendJSONString(eventID, to: &out)
        out += #","event_type":"#.utf8
        JSONValue.appendJSONString(eventType, to: &out)
        out += #","created_at":"#.utf8
        JSONValue.appendJSONString(createdAt, to: &out)
        out += #","data":"#.utf8
        data.serialize(into: &out)
        out.append(UInt8(ascii: "}"))
    }
}
