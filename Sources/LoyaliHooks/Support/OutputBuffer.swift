#if canImport(Glibc)
import Glibc
#endif

/// Collects output bytes and writes them to a descriptor in large chunks; dry-runs print hundreds
/// of thousands of lines and one `write(2)` per line would dominate the run.
public final class OutputBuffer {
    /// Bytes not yet written.
    public var bytes: [UInt8] = []
    private let descriptor: Int32
    private let flushThreshold: Int
    /// The first write error, if any; later writes are skipped.
    public private(set) var writeError: String?

    /// Buffers output for `descriptor` (1 for stdout).
    public init(descriptor: Int32, flushThreshold: Int = 1 << 20) {
        self.descriptor = descriptor
        self.flushThreshold = flushThreshold
        bytes.reserveCapacity(flushThreshold + 4096)
    }

    deinit { flush() }

    /// Appends text.
    public func write(_ text: String) {
        bytes += text.utf8
        flushIfFull()
    }

    /// Writes the buffer out once it passes the threshold.
    @inline(__always)
    public func flushIfFull() {
        if bytes.count >= flushThreshold { flush() }
    }

    /// Writes everything buffered.
    public func flush() {
        defer { bytes.removeAll(keepingCapacity: true) }
        guard writeError == nil else { return }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                writeError = SystemError.describe(errno)
                return
            }
            offset += n
        }
    }
}
