/// Something went wrong with a plugin process rather than with one event: it could not start,
/// crashed, hung, broke the protocol, or was shut down. Renders itself as one clear sentence
/// naming the plugin, plus the last lines of its stderr when they explain more.
public struct PluginError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure.
    public enum Kind: String, Sendable, Equatable {
        /// The process could not be spawned, exited before `ready`, answered something else, or
        /// did not answer within its start timeout.
        case startFailed = "start_failed"
        /// The process died while requests were outstanding.
        case crashed
        /// No answer within the manifest's `timeout`.
        case timedOut = "timeout"
        /// A line on stdout that is not a protocol message.
        case malformed
        /// The plugin is restarting after failing to start, or was shut down.
        case unavailable
    }

    /// The plugin's name.
    public var plugin: String
    /// What kind of failure.
    public var kind: Kind
    /// What happened, without the plugin's name.
    public var message: String
    /// The last lines the process wrote to stderr, oldest first.
    public var stderr: [String]

    /// An error about plugin `plugin`.
    public init(plugin: String, kind: Kind, message: String, stderr: [String] = []) {
        self.plugin = plugin
        self.kind = kind
        self.message = message
        self.stderr = stderr
    }

    /// One line: `plugin 'x' crashed: exited with status 1 while handling this request; … (stderr: …)`.
    public var description: String {
        var text = "plugin '\(plugin)' \(message)"
        let shown = stderr.suffix(3).filter { !$0.isEmpty }
        if !shown.isEmpty { text += " (stderr: \(shown.joined(separator: " | ")))" }
        return text
    }

    /// The headline, then every kept stderr line on its own indented line, for start-up errors
    /// where the whole traceback matters.
    public var detailedDescription: String {
        var text = "plugin '\(plugin)' \(message)"
        if !stderr.isEmpty {
            text += "; its stderr:"
            for line in stderr { text += "\n    | " + line }
        }
        return text
    }
}
