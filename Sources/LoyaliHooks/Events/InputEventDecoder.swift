/// Turns one input line into an ``EventEnvelope`` following the input contract:
/// a JSON object with `event_type` (a catalogued type) and `data` (an object), and optionally `id`
/// and `created_at` (RFC 3339).
public struct InputEventDecoder: Sendable {
    /// The RFC 3339 text used when a line has no `created_at`.
    public var ingestTime: String

    public init(ingestTime: String) { self.ingestTime = ingestTime }

    /// Decodes `line` (without its newline). `number` is its 1-based line number.
    public func decode(_ line: UnsafeBufferPointer<UInt8>, number: Int) throws(InputRejection) -> EventEnvelope {
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch {
            // A repeated key is well-formed JSON, but not an event this tool will carry.
            let prefix = error.duplicateKey == nil ? "invalid JSON: " : ""
            throw InputRejection(line: number, column: error.column, reason: prefix + error.reason)
        }
        guard case .object(let object) = value else {
            throw InputRejection(line: number, reason: "an event must be a JSON object, not \(value.kindName)")
        }
        var eventType: String?
        var data: JSONValue?
        var id: String?
        var createdAt: String?
        for member in object.members {
            switch member.key {
            case "event_type":
                guard case .string(let s) = member.value else {
                    throw InputRejection(line: number, reason: "'event_type' must be a string, not \(member.value.kindName)")
                }
                eventType = s
            case "data":
                guard case .object = member.value else {
                    throw InputRejection(line: number, reason: "'data' must be an object, not \(member.value.kindName)")
                }
                data = member.value
            case "id":
                guard case .string(let s) = member.value else {
                    throw InputRejection(line: number, reason: "'id' must be a string, not \(member.value.kindName)")
                }
                guard !s.isEmpty else { throw InputRejection(line: number, reason: "'id' is empty; omit it to derive one from the line") }
                id = s
            case "created_at":
                guard case .string(let s) = member.value else {
                    throw InputRejection(line: number, reason: "'created_at' must be an RFC 3339 string, not \(member.value.kindName)")
                }
                guard RFC3339.isValid(s) else {
                    throw InputRejection(line: number, reason: "'created_at' is not an RFC 3339 timestamp: '\(s)'")
                }
                createdAt = s
            default:
                continue
            }
        }
        guard let eventType else { throw InputRejection(line: number, reason: "missing required field 'event_type'") }
        guard let data else { throw InputRejection(line: number, reason: "missing required field 'data'") }
        guard EventCatalogue.type(named: eventType) != nil else {
            throw InputRejection(
                line: number,
                reason: "unknown event type '\(eventType)'\(Suggestion.didYouMean(eventType, in: EventCatalogue.names))")
        }
        return EventEnvelope(
            eventID: id ?? Self.derivedEventID(line),
            eventType: eventType,
            createdAt: createdAt ?? ingestTime,
            data: data)
    }

    /// `evt_` plus a hash of the exact line, so replaying the same line yields the same id and the
    /// store dedupes it.
    public static func derivedEventID(_ line: UnsafeBufferPointer<UInt8>) -> String {
        "evt_" + Hex.encode(SHA256Digest.hash(UnsafeRawBufferPointer(line)).prefix(16))
    }
}
