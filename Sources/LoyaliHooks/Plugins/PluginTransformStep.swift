import Foundation

/// `- plugin: NAME`: a transform step run by an external program from `plugins/NAME/`.
///
/// ```yaml
/// transform:
///   - plugin: notify-message
///     config: { field: notification }
/// ```
///
/// Each event goes out as `{"type":"transform","id":N,"event":{"id","event_type","created_at","data"}}`
/// and comes back as `{"id":N,"event":{…}}` (only `data` may change), `{"id":N,"drop":true}` or
/// `{"id":N,"error":"reason"}`. A whole batch is pipelined to the plugin's processes at once
/// (``BatchTransformStep``), so a plugin costs no round trip per event.
public struct PluginTransformStep: BatchTransformStep {
    /// The plugin's processes.
    public let supervisor: PluginSupervisor
    /// Where the step names its plugin, for start-up errors.
    public let location: SourceLocation
    /// The quoted part of that line, for the caret under start-up errors.
    public let excerpt: SourceExcerpt?

    /// The plugin's name.
    public var name: String { supervisor.manifest.name }

    /// A step served by `supervisor`, named in its pipeline at `location`.
    public init(supervisor: PluginSupervisor, location: SourceLocation, excerpt: SourceExcerpt? = nil) {
        self.supervisor = supervisor
        self.location = location
        self.excerpt = excerpt
    }

    /// One event: a batch of one. Prefer ``apply(batch:)``, which pipelines.
    public func apply(to envelope: inout EventEnvelope) throws(TransformFailure) -> TransformOutcome {
        var batch = [envelope]
        let outcome = apply(batch: &batch)[0]
        envelope = batch[0]
        return try outcome.get()
    }

    /// Sends every event to the plugin at once, waits for all replies and applies each to its
    /// event; a failed reply affects only its own event.
    public func apply(batch envelopes: inout [EventEnvelope]) -> [Result<TransformOutcome, TransformFailure>] {
        // Every request goes into one buffer: one allocation for the batch, not one per event.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(envelopes.count * 512)
        var ends: [Int] = []
        ends.reserveCapacity(envelopes.count)
        for envelope in envelopes {
            Self.appendRequest(envelope, to: &buffer)
            ends.append(buffer.count)
        }
        let payloads = ends.indices.map { buffer[($0 == 0 ? 0 : ends[$0 - 1])..<ends[$0]] }
        let replies = supervisor.call(payloads)
        var outcomes: [Result<TransformOutcome, TransformFailure>] = []
        outcomes.reserveCapacity(envelopes.count)
        for index in envelopes.indices {
            outcomes.append(outcome(of: replies[index], envelope: &envelopes[index]))
        }
        return outcomes
    }

    /// Appends the request after its id: `,"event":{"id":…,"event_type":…,"created_at":…,"data":…}}`.
    static func appendRequest(_ envelope: EventEnvelope, to out: inout [UInt8]) {
        out += #","event":"#.utf8
        envelope.appendEventJSON(to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// Applies one reply to its envelope.
    func outcome(of result: PluginSupervisor.Reply, envelope: inout EventEnvelope) -> Result<TransformOutcome, TransformFailure> {
        let reply: JSONObject
        switch result.map({ PluginSupervisor.decode($0) }) {
        case .failure(let error):
            return .failure(TransformFailure(step: name, reason: error.description))
        case .success(.failure(let problem)):
            return .failure(TransformFailure(step: name, reason: "plugin wrote a malformed reply: \(problem)"))
        case .success(.success(let object)):
            reply = object
        }
        if let error = reply["error"] {
            let reason = error.stringValue ?? error.serializedString
            return .failure(TransformFailure(step: name, reason: "plugin error: \(reason)"))
        }
        if let drop = reply["drop"] {
            guard drop == .bool(true) else {
                return .failure(TransformFailure(step: name, reason: "plugin replied \"drop\": \(drop.serializedString); only true is allowed"))
            }
            return .success(.drop)
        }
        guard let event = reply["event"] else {
            return .failure(TransformFailure(step: name, reason: "plugin reply has none of \"event\", \"drop\" or \"error\""))
        }
        guard case .object(let object) = event else {
            return .failure(TransformFailure(step: name, reason: "plugin replied \"event\" as \(event.kindName); it must be the event object"))
        }
        // The envelope's identity is fixed: receivers dedupe and verify by it.
        var data: JSONValue?
        for member in object.members {
            let original: String
            switch member.key {
            case "data":
                data = member.value
                continue
            case "id": original = envelope.eventID
            case "event_type": original = envelope.eventType
            case "created_at": original = envelope.createdAt
            default:
                return .failure(TransformFailure(step: name, reason: "plugin added \"\(member.key)\" to the event; only data may change"))
            }
            guard case .string(let text) = member.value, text == original else {
                return .failure(TransformFailure(
                    step: name,
                    reason: "plugin changed the event's \(member.key) from \(JSONValue.string(original).serializedString) to \(member.value.serializedString); only data may change"))
            }
        }
        guard let data else {
            return .failure(TransformFailure(step: name, reason: "plugin replied an event without \"data\""))
        }
        guard case .object = data else {
            return .failure(TransformFailure(step: name, reason: "plugin replied \"data\" as \(data.kindName); it must be an object"))
        }
        envelope.data = data.restoringNumberLiterals(from: envelope.data)
        return .success(.keep)
    }

    /// Registry entry: `- plugin: NAME` with an optional `config:` beside it.
    public static let factory = TransformStepFactory(
        name: "plugin", summary: "run an external transform from plugins/NAME: - plugin: NAME, config: {…}",
        value: .name, options: [ConfigKey("config", .any, "The plugin's options, checked against its manifest.")]
    ) { value, options, reader in
        guard let name = reader.literal(value, what: "plugin") else { return nil }
        guard let supervisor = reader.plugins.supervisor(
            named: name, kind: .transform, at: value, config: options["config"], reader: reader)
        else { return nil }
        return PluginTransformStep(supervisor: supervisor, location: value.location, excerpt: reader.excerpt(at: value.location))
    }
}
