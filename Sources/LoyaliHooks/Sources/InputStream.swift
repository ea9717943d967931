#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a source's lines come from: an open file descriptor or bytes already in memory.
public enum InputStream: Sendable {
    /// A readable descriptor; `closeWhenDone` is false for stdin, which the process does not own.
    case descriptor(Int32, name: String, closeWhenDone: Bool)
    /// In-memory lines, e.g. the catalogue's samples.
    case bytes([UInt8], name: String)

    /// The name used in messages (`input`, a path, `<stdin>`).
    public var name: String {
        switch self {
        case .descriptor(_, let name, _), .bytes(_, let name): name
        }
    }

    /// Opens `path` for reading.
    public static func open(path: String) throws(SourceError) -> InputStream {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SourceError(source: path, reason: SystemError.describe(errno)) }
        return .descriptor(fd, name: path, closeWhenDone: true)
    }
}

/// A source that could not be opened or read.
public struct SourceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The source's name or path.
    public var source: String
    /// What went wrong.
    public var reason: String

    public init(source: String, reason: String) {
        self.source = source
        self.reason = reason
    }

    public var description: String { "\(source): \(reason)" }
}
