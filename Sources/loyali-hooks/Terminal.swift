import Foundation
import LoyaliHooks

/// Standard streams for commands.
enum Terminal {
    /// Writes `text` and a newline to stdout.
    static func out(_ text: String) {
        StandardStream.write(text + "\n", to: 1)
    }

    /// Writes `text` and a newline to stderr. Control characters other than its line breaks are
    /// escaped: messages quote event data, which must not steer the terminal.
    static func err(_ text: String) {
        let safe = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0).controlCharactersEscaped }.joined(separator: "\n")
        StandardStream.write(safe + "\n", to: 2)
    }

    /// Reads a whole file, or stdin for `-` or `nil`.
    static func readInput(_ path: String?) throws(CLIError) -> [UInt8] {
        if path == nil || path == "-" {
            return Array(FileHandle.standardInput.readDataToEndOfFile())
        }
        guard let data = FileManager.default.contents(atPath: path!) else {
            throw CLIError.usage("\(path!): cannot be read")
        }
        return Array(data)
    }

    /// The current unix time in seconds.
    static var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
