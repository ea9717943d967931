import Foundation

/// The one-runner-per-store lock: an exclusive `flock` on `loyali-hooks.lock` in the state
/// directory, held from ``init(directory:)`` until the value goes away (in practice, the process's
/// lifetime).
///
/// Two runners on one store would each take the other's in-flight rows for crash orphans at
/// start-up and send them again, so `run` (without `--dry-run`) and `serve` take this lock before
/// they touch the outbox. Read-only commands and `resend` never take it: SQLite's own locks
/// arbitrate their short transactions with the runner's.
///
/// `flock` rather than a pid file: the kernel drops the lock when the process dies, however it
/// dies, so a crash never leaves a stale lock behind. The holder's pid is written into the file
/// only to name it in the refusal. The descriptor is close-on-exec, so plugin processes never
/// inherit (and outlive us holding) the lock.
public final class StateDirectoryLock: Sendable {
    /// The lock file's name inside the state directory.
    public static let fileName = "loyali-hooks.lock"

    /// Why the lock was not taken.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// Another process holds it; its pid when the file names one.
        case inUse(directory: String, pid: Int32?)
        /// The directory or the lock file could not be made or locked.
        case unavailable(directory: String, message: String)

        /// `state DIR is in use by pid N`, or what stopped the lock.
        public var description: String {
            switch self {
            case .inUse(let directory, let pid?): "state \(directory) is in use by pid \(pid)"
            case .inUse(let directory, nil): "state \(directory) is in use by another loyali-hooks runner"
            case .unavailable(let directory, let message): "state \(directory) cannot be locked: \(message)"
            }
        }
    }

    /// The locked state directory.
    public let directory: String
    private let descriptor: Int32

    /// Creates `directory` if needed (mode 0700: it will hold payloads) and takes the lock without
    /// waiting: a runner that finds another one there must stop at once, not queue behind it.
    public init(directory: String) throws(Failure) {
        do {
            try SQLiteDeliveryStore.createStateDirectory(directory)
        } catch {
            throw .unavailable(directory: directory, message: "cannot create the directory: \(error.localizedDescription)")
        }
        let path = SQLiteDeliveryStore.file(Self.fileName, in: directory)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .unavailable(directory: directory, message: "\(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            defer { close(fd) }
            guard code == EWOULDBLOCK else {
                throw .unavailable(directory: directory, message: "\(path): \(String(cString: strerror(code)))")
            }
            throw .inUse(directory: directory, pid: Self.holder(fd))
        }
        // Ours now: name this process in it for the next one that asks.
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.directory = directory
        self.descriptor = fd
    }

    deinit {
        // Closing the last descriptor releases the flock.
        close(descriptor)
    }

    /// The pid written by the holder, if it got that far.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
