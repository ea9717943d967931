/// `source: { type: file, path: events/loyali.jsonl }`: a file of JSON lines.
public struct FileSource: EventSource {
    public let kind = "file"
    /// The file path, relative to the working directory.
    public let path: String
    public var identity: String { "file:\(path)" }

    public func open() throws(SourceError) -> InputStream {
        try InputStream.open(path: path)
    }

    /// Registry entry.
    public static let factory = SourceFactory(
        kind: "file", summary: "a file of JSON lines",
        options: [ConfigKey("path", .string, required: true, "The file of JSON lines to read; reading resumes from a checkpoint.")]
    ) { mapping, reader in
        guard reader.require(["path"], in: mapping, context: "a file source"),
            let path = reader.string(mapping["path"]!, what: "source.path")
        else { return nil }
        return FileSource(path: path)
    }
}
