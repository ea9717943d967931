import Foundation
import Synchronization

/// Appends whole lines to a file, one `write(2)` per line on an `O_APPEND` descriptor, so lines
/// from several writers (threads or processes) never interleave. A short write (disk full) is
/// rolled back with `ftruncate`, so no half line is ever left behind.
public final class FileAppender: Sendable {
    /// The file's path.
    public let path: String
    private let descriptor = Mutex<Int32>(-1)

    public init(path: String) { self.path = path }

    deinit {
        descriptor.withLock { fd in if fd >= 0 { close(fd) } }
    }

    /// Appends `line` plus a newline.
    public func append(line: [UInt8]) throws(DeliveryFailure) {
        var bytes = line
        bytes.append(0x0A)
        let result: DeliveryFailure? = descriptor.withLock { fd in
            if fd < 0 {
                switch Self.openForAppend(path) {
                case .success(let opened): fd = opened
                case .failure(let failure): return failure
                }
            }
            // flock keeps the rollback below from cutting another process's concurrent line.
            flock(fd, LOCK_EX)
            defer { flock(fd, LOCK_UN) }
            let before = lseek(fd, 0, SEEK_END)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == bytes.count else {
                let code = errno
                if before >= 0 { _ = ftruncate(fd, before) }
                let reason = written < 0 ? SystemError.describe(code) : "short write (\(written) of \(bytes.count) bytes)"
                return DeliveryFailure(errorClass: "io", message: "\(path): \(reason)", retryable: true)
            }
            return nil
        }
        if let result { throw result }
    }

    private static func openForAppend(_ path: String) -> Result<Int32, DeliveryFailure> {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            return .failure(DeliveryFailure(errorClass: "io", message: "\(path): \(SystemError.describe(errno))", retryable: true))
        }
        return .success(fd)
    }
}
