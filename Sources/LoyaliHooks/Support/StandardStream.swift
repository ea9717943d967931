import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes to the process's standard streams that outlive whoever reads them, and the one switch
/// that lets them: SIGPIPE ignored.
///
/// A process that writes to a pipe or socket whose reader has gone is killed by SIGPIPE unless
/// it ignores that signal: silently, with no log line and no core. For `serve`, `listen` and a
/// durable `run` that reader is a log shipper that restarted, a `| tee` that ended, or a closed
/// terminal, and none of those may take delivery down. With SIGPIPE ignored the write fails with
/// EPIPE instead, and these writes drop what could not be written (the stdout sink reports it
/// as a retryable failure). Sockets are safe either way: libcurl, libpq, libmicrohttpd and our
/// own sends pass `MSG_NOSIGNAL`. Children started by ``ChildProcess`` get the default back.
public enum StandardStream {
    /// Makes writes to a closed pipe fail with EPIPE instead of ending the process. Long-running
    /// commands call it first.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Writes all of `text` to `descriptor` (2 for stderr); `false` if the stream is gone. Never
    /// traps, unlike `FileHandle.write(_:)`, which treats a failed write as fatal.
    @discardableResult
    public static func write(_ text: String, to descriptor: Int32) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }
}
