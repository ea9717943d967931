/// A run of input lines copied out of the reader's buffer, so a worker thread can process them
/// while the reader moves on.
public struct LineBatch: Sendable {
    /// One line's place in ``storage``.
    public struct Entry: Sendable {
        public var start: Int
        public var count: Int
        public var number: Int
        public var isTooLong: Bool
    }

    /// The lines' bytes, back to back.
    public private(set) var storage: [UInt8] = []
    /// The lines, in input order.
    public private(set) var entries: [Entry] = []
    /// Byte offset just past the last line: the source position this batch completes.
    public private(set) var endOffset: Int64 = 0

    public init(capacity: Int) {
        storage.reserveCapacity(capacity * 384)
        entries.reserveCapacity(capacity)
    }

    /// Copies `line` in.
    public mutating func append(_ line: LineReader.Line) {
        entries.append(Entry(start: storage.count, count: line.bytes.count, number: line.number, isTooLong: line.isTooLong))
        storage.append(contentsOf: line.bytes)
        endOffset = line.endOffset
    }

    /// Number of lines.
    public var count: Int { entries.count }

    /// Calls `body` with each line's bytes and entry.
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>, Entry) -> Void) {
        storage.withUnsafeBufferPointer { all in
            for entry in entries {
                body(UnsafeBufferPointer(rebasing: all[entry.start..<(entry.start + entry.count)]), entry)
            }
        }
    }
}
