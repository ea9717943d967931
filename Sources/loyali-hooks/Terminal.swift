import Foundation
import LoyaliHooks

/// Standard streams for commands.
enum Terminal {
    /// Writes `text` and a newline to stdout.
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// Writes `text` and a newline to stderr. Control characters other than its line breaks are
    /// escaped: messages quote event data, which must not steer the terminal.
    static func err(_ text: String) {
        let safe = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0).controlCharactersEscaped }.joined(separator: "\n")
        FileHandle.standardError.write(Data((safe + "\n").utf8))
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
