/// Prints what each delivery would send, instead of sending it.
///
/// The human form shows the request as it would go on the wire with a pretty body; `--json` gives
/// one object per delivery with `body` holding the exact signed bytes.
public struct DryRunPrinter: Sendable {
    /// Output format.
    public enum Format: Sendable { case human, json }

    public let format: Format

    public init(format: Format) { self.format = format }

    /// Appends one delivery to `out`.
    public func print(_ request: DeliveryRequest, sink: SinkDefinition, to out: inout [UInt8]) {
        switch format {
        case .json: printJSON(request, sink: sink, to: &out)
        case .human: printHuman(request, sink: sink, to: &out)
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

    private func printHuman(_ request: DeliveryRequest, sink: SinkDefinition, to out: inout [UInt8]) {
        var text = "── \(request.pipeline) → \(request.sink) (\(sink.sink.kind)) · \(request.eventType) · \(request.deliveryID)\n"
        switch sink.sink.kind {
        case "http": text += "POST \(sink.sink.target)\n"
        case "file": text += "APPEND \(sink.sink.target)\n"
        case "plugin": text += "PLUGIN \(sink.sink.target) (not started in a dry run; it would receive these headers and body)\n"
        default: text += "WRITE \(sink.sink.target)\n"
        }
        for header in request.headers { text += "\(header.name): \(header.value)\n" }
        text += "\n"
        let pretty = (try? JSONParser.parse(request.body))?.prettyPrinted() ?? String(decoding: request.body, as: UTF8.self)
        text += pretty + "\n\n"
        out += text.utf8
    }
}
