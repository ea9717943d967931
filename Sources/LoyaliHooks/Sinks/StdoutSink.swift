#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// `type: stdout`: prints one JSON object per delivery on standard output.
public struct StdoutSink: Sink {
    public let kind = "stdout"
    public var target: String { "stdout" }

    /// Serializes writers so each line leaves in one piece.
    private static let lock = Mutex<Void>(())

    public init() {}

    public func deliver(_ request: DeliveryRequest) throws(DeliveryFailure) {
        var line = request.body
        line.append(0x0A)
        let failure: DeliveryFailure? = Self.lock.withLock { _ in
            var offset = 0
            while offset < line.count {
                let n = line.withUnsafeBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    return DeliveryFailure(errorClass: "io", message: "stdout: \(SystemError.describe(errno))", retryable: true)
                }
                offset += n
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// Registry entry.
    public static let factory = SinkFactory(kind: "stdout", summary: "print one JSON object per delivery", options: []) { _, _, _ in
        StdoutSink()
    }
}
