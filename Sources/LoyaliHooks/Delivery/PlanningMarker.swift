/// Marks a stored body as "the event as received, transform steps still to run".
///
/// When a pipeline's steps fail for an event, its deliveries are stored as `failed` with the
/// reason, and their body is this marker followed by the untransformed event. The runner sees the
/// marker on a resend and runs the steps again before signing, so a step that would redact a
/// field can never be skipped. Real bodies are our serializer's output and always start with `{`,
/// so the leading NUL cannot collide with one.
public enum PlanningMarker {
    /// The prefix: a NUL byte and a tag.
    public static let prefix: [UInt8] = [0x00] + Array("replan:".utf8)

    /// `prefix` + the event as received.
    public static func body(for envelope: EventEnvelope) -> [UInt8] {
        var body = prefix
        envelope.appendEventJSON(to: &body)
        return body
    }

    /// The event JSON when `body` carries the marker.
    public static func event(in body: [UInt8]) -> ArraySlice<UInt8>? {
        body.starts(with: prefix) ? body[prefix.count...] : nil
    }
}
