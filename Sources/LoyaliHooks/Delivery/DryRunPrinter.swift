/// Prints what each delivery would send, instead of sending it.
///
/// Three forms:
/// - `human` (the default): one short line per delivery, to read a whole run on one screen;
///   the runner adds one delivery in full (``printFull(_:sink:to:)``) at the end;
/// - `full`: every delivery in full: its route, the request line, every header and the exact
///   body bytes that are signed and sent;
/// - `json`: one object per delivery with `body` holding the exact signed bytes.
///
/// A full delivery shows the body exactly as signed, so its signature verifies against what is
/// printed. With `pretty`, bodies are indented for reading instead, under a label saying that
/// they are not the signed bytes.
public struct DryRunPrinter: Sendable {
    /// Output format.
    public enum Format: Sendable { case human, full, json }

    public let format: Format
    /// Indent JSON bodies in full deliveries (they are then not the signed bytes, and say so).
    public let pretty: Bool
    /// Width of the route column (`pipeline → sink (kind)`) in short lines, so they line up.
    public let routeWidth: Int

    /// The widest event type name: short lines pad to it.
    static let eventTypeWidth = EventCatalogue.names.map(\.count).max() ?? 0

    /// A printer in `format`. `routeWidth` is usually ``routeWidth(for:)`` of the pipelines run.
    public init(format: Format, pretty: Bool = false, routeWidth: Int = 0) {
        self.format = format
        self.pretty = pretty
        self.routeWidth = routeWidth
    }

    /// The width of the longest route of `pipelines` as short lines print it.
    public static func routeWidth(for pipelines: [PipelineDefinition]) -> Int {
        pipelines.flatMap { pipeline in pipeline.sinks.map { route(pipeline: pipeline.name, sink: $0).count } }.max() ?? 0
    }

    /// Appends one delivery to `out`, in this printer's format.
    public func print(_ request: DeliveryRequest, sink: SinkDefinition, to out: inout [UInt8]) {
        switch format {
        case .json: printJSON(request, sink: sink, to: &out)
        case .full: printFull(request, sink: sink, to: &out)
        case .human: printLine(request, sink: sink, to: &out)
        }
    }

    private func printJSON(_ request: DeliveryRequest, sink: SinkDefinition, to out: inout [UInt8]) {
        out += #"{"pipeline":"#.utf8
        JSONValue.appendJSONString(request.pipeline, to: &out)
        out += #","sink":"#.utf8
        JSONValue.appendJSONString(request.sink, to: &out)
        out += #","sink_type":"#.utf8
        JSONValue.appendJSONString(sink.sink.kind, to: &out)
        out += #","target":"#.utf8
        JSONValue.appendJSONString(sink.sink.target, to: &out)
        out += #","delivery_id":""#.utf8
        out += request.deliveryID.utf8
        out += #"","event_id":"#.utf8
        JSONValue.appendJSONString(request.eventID, to: &out)
        out += #","event_type":"#.utf8
        JSONValue.appendJSONString(request.eventType, to: &out)
        out += #","attempt":"#.utf8
        out += String(request.attempt).utf8
        out.append(UInt8(ascii: ","))
        request.appendHeadersAndBody(to: &out)
        out += "}\n".utf8
    }

    /// The column titles above the short lines of the `human` form; `nil` in the other forms.
    public var columnTitles: String? {
        guard format == .human else { return nil }
        let route = "PIPELINE → SINK (TYPE)"
        return route + String(repeating: " ", count: max(0, routeWidth - route.count) + 2)
            + "EVENT" + String(repeating: " ", count: Self.eventTypeWidth - "EVENT".count + 2)
            + "DELIVERY ID" + String(repeating: " ", count: 36 - "DELIVERY ID".count + 2) + "BODY\n"
    }

    /// `notifications → push (http)   points.earned         whd_…  292 bytes`
    private func printLine(_ request: DeliveryRequest, sink: SinkDefinition, to out: inout [UInt8]) {
        let route = Self.route(pipeline: request.pipeline, sink: sink)
        var line = route + String(repeating: " ", count: max(0, routeWidth - route.count) + 2)
        line += request.eventType + String(repeating: " ", count: max(0, Self.eventTypeWidth - request.eventType.count) + 2)
        line += "\(request.deliveryID)  \(request.body.count) bytes\n"
        out += line.utf8
    }

    /// Appends `request` in full: a title line, the request line, the headers, a blank line and
    /// the body followed by a line break that is not part of it, then a blank line.
    public func printFull(_ request: DeliveryRequest, sink: SinkDefinition, to out: inout [UInt8]) {
        var text = "── \(Self.route(pipeline: request.pipeline, sink: sink)) · \(request.eventType) · \(request.deliveryID)\n"
        switch sink.sink.kind {
        case "http": text += "POST \(sink.sink.target)\n"
        case "file": text += "APPEND \(sink.sink.target)\n"
        case "plugin": text += "PLUGIN \(sink.sink.target) (not started in a dry run; it would receive these headers and body)\n"
        default: text += "WRITE \(sink.sink.target)\n"
        }
        for header in request.headers { text += "\(header.name): \(header.value)\n" }
        text += "\n"
        if pretty, let value = try? JSONParser.parse(request.body) {
            text += "(body pretty-printed for reading: NOT the \(request.body.count) bytes that are signed and sent; drop --pretty to see them)\n"
            text += value.prettyPrinted() + "\n\n"
            out += text.utf8
            return
        }
        out += text.utf8
        out += request.body
        out += "\n\n".utf8
    }

    /// `pipeline → sink (kind)`.
    static func route(pipeline: String, sink: SinkDefinition) -> String {
        "\(pipeline) → \(sink.name) (\(sink.sink.kind))"
    }
}
