/// `type: file`: appends one JSON object (the delivered envelope) per line.
///
/// ```yaml
/// audit: { type: file, path: logs/fulfillment.jsonl }
/// ```
public struct FileSink: Sink {
    public let kind = "file"
    /// The file appended to.
    public let appender: FileAppender
    public var target: String { appender.path }

    public init(path: String) { self.appender = FileAppender(path: path) }

    public func deliver(_ request: DeliveryRequest) throws(DeliveryFailure) {
        try appender.append(line: request.body)
    }

    /// Registry entry.
    public static let factory = SinkFactory(
        kind: "file", summary: "append one JSON object per delivery to a file",
        options: [ConfigKey("path", .string, required: true, "The file each delivery is appended to, one JSON envelope per line.")]
    ) { name, mapping, reader in
        guard reader.require(["path"], in: mapping, context: "file sink '\(name)'"),
            let path = reader.string(mapping["path"]!, what: "path")
        else { return nil }
        guard !path.isEmpty, !path.hasSuffix("/") else {
            reader.error("path must name a file, not \(reader.quoted(mapping["path"]!, path))", at: mapping["path"]!)
            return nil
        }
        return FileSink(path: path)
    }
}
