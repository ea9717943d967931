import FuzzSupport
import LoyaliHooks

// InputEventDecoder on one arbitrary line: never a crash; a rejection names line 1 and, when it
// has a column, one inside the line (+1 for "at the end"); an accepted event is catalogued, its
// created_at is RFC 3339, and the envelope body built from it parses back to the same fields.
enum Target {
    static let decoder = InputEventDecoder(ingestTime: "2024-01-01T00:00:00Z")
}

runFuzzer { data, size in
    let line = fuzzBytes(data, size)
    let envelope: EventEnvelope
    do throws(InputRejection) {
        envelope = try Target.decoder.decode(line, number: 1)
    } catch {
        require(error.line == 1, "rejection names line \(error.line), not 1")
        if let column = error.column {
            require(column >= 1 && column <= line.count + 1, "column \(column) outside a \(line.count)-byte line")
        }
        require(!error.reason.isEmpty, "rejection without a reason")
        _ = error.message(source: "fuzz")
        _ = error.record(source: "fuzz", raw: line)
        return 0
    }
    require(EventCatalogue.type(named: envelope.eventType) != nil, "uncatalogued type '\(envelope.eventType)' accepted")
    require(RFC3339.isValid(envelope.createdAt), "created_at '\(envelope.createdAt)' is not RFC 3339")
    require(!envelope.eventID.isEmpty, "empty event id")
    require(envelope.data.objectValue != nil, "data is not an object")
    let deliveryID = DeliveryID.make(eventID: envelope.eventID, pipeline: "fuzz", sink: "sink")
    let body = EnvelopeEncoder(envelope).body(deliveryID: deliveryID)
    guard let parsed = try? JSONParser.parse(body), let object = parsed.objectValue else {
        fail("envelope body is not a JSON object: \(String(decoding: body, as: UTF8.self))")
    }
    require(object.keys == ["id", "event_type", "created_at", "data"], "envelope keys \(object.keys)")
    require(object["id"] == .string(deliveryID), "envelope id")
    require(object["event_type"] == .string(envelope.eventType), "envelope event_type")
    require(object["created_at"] == .string(envelope.createdAt), "envelope created_at")
    require(object["data"] == envelope.data, "envelope data changed on the way through")
    return 0
}
