#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Renders `errno` values for messages.
public enum SystemError {
    /// `strerror(code)`, e.g. "No such file or directory".
    public static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
