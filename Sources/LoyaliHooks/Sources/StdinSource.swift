/// `source: { type: stdin }`: JSON lines on standard input.
public struct StdinSource: EventSource {
    public let kind = "stdin"
    public var identity: String { "stdin" }

    public init() {}

    public func open() throws(SourceError) -> InputStream {
        .descriptor(0, name: "<stdin>", closeWhenDone: false)
    }

    /// Registry entry.
    public static let factory = SourceFactory(kind: "stdin", summary: "JSON lines on standard input", options: []) { _, _ in
        StdinSource()
    }
}
