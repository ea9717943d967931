import Foundation
import LoyaliHooks

// The one place that maps errors to exit codes (DESIGN.md: 0 success, 1 failures, 2 usage/config).
let arguments = Array(CommandLine.arguments.dropFirst())
let status: Int32
do {
    try Commands.dispatch(arguments)
    status = ExitCode.success
} catch .usage(let message) {
    Terminal.err("error: \(message)")
    Terminal.err("run 'loyali-hooks --help' for usage")
    status = ExitCode.usageOrConfig
} catch .commandUsage(let message, let command) {
    Terminal.err("error: \(message)")
    Terminal.err("run 'loyali-hooks \(command) --help' for usage")
    status = ExitCode.usageOrConfig
} catch .config {
    status = ExitCode.usageOrConfig
} catch .failed(let message) {
    if !message.isEmpty { Terminal.err(message) }
    status = ExitCode.failures
}
exit(status)
