#if canImport(Glibc)
import Glibc
#endif

/// Why a child process could not be started.
struct SpawnError: Error, Sendable, CustomStringConvertible {
    var program: String
    var directory: String
    var code: Int32

    var description: String {
        let hint = code == ENOENT ? " (is it installed and on PATH, or a path inside the plugin folder?)" : ""
        return "cannot run '\(program)': \(SystemError.describe(code))\(hint)"
    }
}
