/// Why and where a JSON text was rejected.
///
/// `description` reads like `line 1, column 17: expected ',' or '}' after object member`, which is
/// what ends up in the rejected-line report for a bad input event.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 0-based byte offset of the problem in the input.
    public var offset: Int
    /// 1-based line of the problem.
    public var line: Int
    /// 1-based column of the problem, counted in Unicode scalars from the start of the line, so it
    /// lines up with what an editor shows for non-ASCII text.
    public var column: Int
    /// What is wrong, in a short human sentence (no trailing period).
    public var reason: String
    /// Set when the problem is a repeated object key.
    public internal(set) var duplicateKey: DuplicateKey?

    /// A key that an object repeats, and where that object is.
    public struct DuplicateKey: Sendable, Equatable {
        /// The repeated key.
        public var key: String
        /// The keys (and array indices, as decimal text) from the document's root to the object
        /// that repeats `key`; empty for the top level. Filled in as the error travels out
        /// through each container.
        public var path: [String]
    }

    /// Creates an error at an explicit position.
    public init(offset: Int, line: Int, column: Int, reason: String) {
        self.offset = offset
        self.line = line
        self.column = column
        self.reason = reason
    }

    /// Creates an error at `offset` in `bytes`, working out line and column from the input.
    ///
    /// The parser never tracks lines while it runs; this scan back over the input only happens
    /// once something has already gone wrong, which keeps the hot path free of bookkeeping.
    init(offset: Int, in bytes: UnsafeBufferPointer<UInt8>, reason: String) {
        let offset = min(max(offset, 0), bytes.count)
        var line = 1
        var lineStart = 0
        var i = 0
        while i < offset {
            let byte = bytes[i]
            // A bare CR counts as a line break too, so CR-only files still get useful lines.
            if byte == 0x0A || (byte == 0x0D && (i + 1 >= bytes.count || bytes[i + 1] != 0x0A)) {
                line += 1
                lineStart = i + 1
            }
            i += 1
        }
        var column = 1
        i = lineStart
        while i < offset {
            if bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        self.init(offset: offset, line: line, column: column, reason: reason)
    }

    /// A duplicate `key` at `offset`; the path is added by ``inside(key:)`` and ``inside(index:)``.
    init(duplicateKey key: String, offset: Int, in bytes: UnsafeBufferPointer<UInt8>) {
        self.init(offset: offset, in: bytes, reason: "")
        duplicateKey = DuplicateKey(key: key, path: [])
        reason = Self.duplicateReason(key: key, path: [])
    }

    /// The error as seen from the container holding the member `key`: a duplicate-key error
    /// gains `key` in front of its path; any other error is returned unchanged.
    @inline(never)
    func inside(key: String) -> JSONParseError {
        guard var duplicate = duplicateKey else { return self }
        duplicate.path.insert(key, at: 0)
        var error = self
        error.duplicateKey = duplicate
        error.reason = Self.duplicateReason(key: duplicate.key, path: duplicate.path)
        return error
    }

    /// Like ``inside(key:)``, for the element at `index` of an array.
    @inline(never)
    func inside(index: Int) -> JSONParseError {
        duplicateKey == nil ? self : inside(key: String(index))
    }

    private static func duplicateReason(key: String, path: [String]) -> String {
        let quoted = JSONValue.string(key).serializedString.controlCharactersEscaped
        let at = (path + [key]).joined(separator: ".").controlCharactersEscaped
        return "duplicate key \(quoted) at \(at); I-JSON (RFC 7493) forbids duplicate keys, "
            + "and a receiver may read a copy that a transform did not change"
    }

    /// `line L, column C: reason`.
    public var description: String { "line \(line), column \(column): \(reason)" }
}
