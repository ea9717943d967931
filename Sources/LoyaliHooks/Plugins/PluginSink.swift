import Foundation

/// `type: plugin`: a sink run by an external program from `plugins/NAME/`.
///
/// ```yaml
/// sinks:
///   spreadsheet:
///     type: plugin
///     plugin: csv-analytics
///     config: { path: logs/loyalty.csv }
///     retry: { schedule: [0s, 30s, 5m] }
/// ```
///
/// Each attempt goes out as `{"type":"deliver","id":N,"delivery":{"id","pipeline","sink",
/// "event_id","event_type","attempt","headers":{…},"body":"…"}}` (`event_id` is the source
/// event's id, `id` the delivery's), where `body` is the exact signed body, and
/// comes back as `{"id":N,"ok":true}` or `{"id":N,"error":"reason","retry":true|false}`. Failures,
/// including a crashed or hung plugin, go through the sink's retry schedule like any other.
public struct PluginSink: ConcurrentSink {
    /// `plugin`.
    public let kind = "plugin"
    /// The plugin's processes; started by ``PluginRuntime`` for a real run, never for a dry run.
    public let supervisor: PluginSupervisor
    /// Where the sink names its plugin, for start-up errors.
    public let location: SourceLocation
    /// The quoted part of that line, for the caret under start-up errors.
    public let excerpt: SourceExcerpt?

    /// Requests pipelined to each process.
    static let inFlightPerProcess = 64

    /// A sink served by `supervisor`, named in its pipeline at `location`.
    public init(supervisor: PluginSupervisor, location: SourceLocation, excerpt: SourceExcerpt? = nil) {
        self.supervisor = supervisor
        self.location = location
        self.excerpt = excerpt
    }

    /// The plugin's name.
    public var target: String { supervisor.manifest.name }
    /// Requests pipelined to the plugin at once: 64 per process.
    public var maxInFlight: Int { supervisor.manifest.concurrency * Self.inFlightPerProcess }

    /// Sends one attempt as a `deliver` request; `completion` runs on a plugin thread.
    public func send(_ request: DeliveryRequest, completion: @escaping @Sendable (AttemptResult) -> Void) {
        supervisor.send(Self.message(request)) { reply in completion(Self.result(of: reply)) }
    }

    /// A blocking attempt, for the `test` command; never call it from the cooperative pool.
    public func deliver(_ request: DeliveryRequest) throws(DeliveryFailure) {
        let result = HTTPSink.wait { done in send(request, completion: done) }
        if case .failure(let failure) = result { throw failure }
    }

    /// The request after its id: `,"delivery":{…}}`.
    static func message(_ request: DeliveryRequest) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(request.body.count + 512)
        out += #","delivery":{"id":"#.utf8
        JSONValue.appendJSONString(request.deliveryID, to: &out)
        out += #","pipeline":"#.utf8
        JSONValue.appendJSONString(request.pipeline, to: &out)
        out += #","sink":"#.utf8
        JSONValue.appendJSONString(request.sink, to: &out)
        out += #","event_id":"#.utf8
        JSONValue.appendJSONString(request.eventID, to: &out)
        out += #","event_type":"#.utf8
        JSONValue.appendJSONString(request.eventType, to: &out)
        out += #","attempt":"#.utf8
        out += String(request.attempt).utf8
        out.append(UInt8(ascii: ","))
        request.appendHeadersAndBody(to: &out)
        out += "}}".utf8
        return out
    }

    /// Maps a reply to an attempt result: `ok` is accepted; an `error` fails the attempt, to be
    /// retried on the sink's schedule unless the plugin said `"retry": false`; a plugin that
    /// crashed, hung or broke the protocol is a retryable failure.
    static func result(of reply: PluginSupervisor.Reply) -> AttemptResult {
        switch reply {
        case .failure(let error):
            return .failure(DeliveryFailure(errorClass: "plugin_\(error.kind.rawValue)", message: error.description, retryable: true))
        case .success(let line):
            let object: JSONObject
            switch PluginSupervisor.decode(line) {
            case .success(let decoded): object = decoded
            case .failure(let problem):
                return .failure(DeliveryFailure(errorClass: "plugin_protocol", message: "plugin wrote a malformed reply: \(problem)", retryable: true))
            }
            if let error = object["error"] {
                let retry = object["retry"]
                guard retry == nil || retry == .bool(true) || retry == .bool(false) else {
                    return .failure(DeliveryFailure(
                        errorClass: "plugin_protocol", message: "plugin replied \"retry\": \(retry!.serializedString); it must be true or false",
                        retryable: true))
                }
                return .failure(DeliveryFailure(
                    errorClass: "plugin", message: error.stringValue ?? error.serializedString, retryable: retry != .bool(false)))
            }
            if object["ok"] == .bool(true) { return .accepted }
            return .failure(DeliveryFailure(
                errorClass: "plugin_protocol", message: "plugin reply has neither \"ok\": true nor \"error\"", retryable: true))
        }
    }

    /// Registry entry.
    public static let factory = SinkFactory(
        kind: "plugin", summary: "hand each delivery to an external program from plugins/NAME",
        options: [
            ConfigKey("plugin", .name, required: true, "The sink plugin: a folder in plugins/ with a plugin.yaml manifest."),
            ConfigKey("config", .any, "The plugin's options, checked against its manifest."),
        ]
    ) { name, mapping, reader in
        guard reader.require(["plugin"], in: mapping, context: "plugin sink '\(name)'"),
            let pluginNode = mapping["plugin"],
            let plugin = reader.literal(pluginNode, what: "plugin")
        else { return nil }
        guard let supervisor = reader.plugins.supervisor(
            named: plugin, kind: .sink, at: pluginNode, config: mapping["config"], reader: reader)
        else { return nil }
        return PluginSink(supervisor: supervisor, location: pluginNode.location, excerpt: reader.excerpt(at: pluginNode.location))
    }
}
