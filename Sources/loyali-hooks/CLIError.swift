/// Failures that end a command, mapped to exit codes in `main.swift` only.
enum CLIError: Error {
    /// Bad arguments: exit 2 with the message and a pointer to `--help`.
    case usage(String)
    /// Bad arguments to `command`: exit 2 with the message and a pointer to that command's `--help`.
    case commandUsage(String, command: String)
    /// Bad configuration; the diagnostics were already printed: exit 2.
    case config
    /// The work ran and some of it failed: exit 1 with the message (may be empty).
    case failed(String)
}

/// The process exit codes of DESIGN.md.
enum ExitCode {
    static let success: Int32 = 0
    static let failures: Int32 = 1
    static let usageOrConfig: Int32 = 2
}
