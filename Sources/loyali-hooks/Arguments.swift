import LoyaliHooks

/// A command line split into positionals, valued options and flags, checked against what the
/// command accepts so a typo gets "did you mean" instead of being ignored.
struct Arguments {
    var positionals: [String] = []
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []

    /// Parses `raw`. `options` take a value (`--input FILE` or `--input=FILE`); `flags` do not.
    init(_ raw: [String], options: [String], flags: [String]) throws(CLIError) {
        let known = options + flags + ["--help", "-h"]
        var i = 0
        var onlyPositionals = false
        while i < raw.count {
            let arg = raw[i]
            i += 1
            if onlyPositionals || !arg.hasPrefix("-") || arg == "-" {
                positionals.append(arg)
                continue
            }
            if arg == "--" {
                onlyPositionals = true
                continue
            }
            var name = arg
            var inlineValue: String?
            if let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                inlineValue = String(arg[arg.index(after: eq)...])
            }
            if name == "-h" { name = "--help" }
            guard known.contains(name) else {
                throw CLIError.usage("unknown option '\(name)'\(Suggestion.didYouMean(name, in: known))")
            }
            if options.contains(name) {
                if let inlineValue {
                    values[name, default: []].append(inlineValue)
                } else {
                    guard i < raw.count else { throw CLIError.usage("option '\(name)' needs a value") }
                    values[name, default: []].append(raw[i])
                    i += 1
                }
            } else {
                guard inlineValue == nil else { throw CLIError.usage("option '\(name)' takes no value") }
                self.flags.insert(name)
            }
        }
    }

    /// Whether `flag` was given.
    func has(_ flag: String) -> Bool { flags.contains(flag) }

    /// The last value of `option`.
    func value(_ option: String) -> String? { values[option]?.last }

    /// Every value of a repeatable `option`.
    func all(_ option: String) -> [String] { values[option] ?? [] }

    /// The value of `option` as an integer.
    func integer(_ option: String) throws(CLIError) -> Int64? {
        guard let text = value(option) else { return nil }
        guard let number = Int64(text) else { throw CLIError.usage("\(option) must be an integer, not '\(text)'") }
        return number
    }

    /// `--log-format`: logfmt (the default) or json.
    func logFormat() throws(CLIError) -> Logger.Format {
        let text = value("--log-format") ?? Logger.Format.logfmt.rawValue
        guard let format = Logger.Format(rawValue: text) else { throw CLIError.usage("--log-format must be logfmt or json, not '\(text)'") }
        return format
    }

    /// The latest unix time a timestamp option accepts: 9999-12-31T23:59:59Z, the last instant
    /// RFC 3339 can write, far beyond any real delivery.
    static let latestUnixTime: Int64 = 253_402_300_799

    /// The value of `option` as unix seconds: a whole number from 0 to ``latestUnixTime``. A
    /// signature header only carries digits, so a negative or absurd time could never verify.
    func unixTime(_ option: String) throws(CLIError) -> Int64? {
        guard let text = value(option) else { return nil }
        guard let seconds = Int64(text), (0...Self.latestUnixTime).contains(seconds) else {
            throw CLIError.usage("\(option) must be unix seconds from 0 to \(Self.latestUnixTime) (year 9999), not '\(text)'")
        }
        return seconds
    }
}
