/// One key a mapping in a pipeline file accepts: its name, what its value must be, and what it
/// means. The loader's lists of allowed keys and `loyali-hooks schema` both come from these
/// definitions, so the JSON Schema cannot drift from what `validate` accepts.
public struct ConfigKey: Sendable {
    /// What a value must be. Scalars may also be written with `${VAR}` wherever the loader
    /// expands variables.
    public indirect enum Value: Sendable {
        /// Any scalar.
        case string
        /// A name: 1–64 letters, digits, `-`, `_` or `.`.
        case name
        /// A duration such as `500ms`, `10s`, `1.5m`, `2h`, `1d`, at most this long.
        case duration(maximum: Duration)
        /// A non-empty list of durations, at most `count` of them.
        case durations(maximum: Duration, count: Int)
        /// A whole number in the range.
        case integer(ClosedRange<Int>)
        /// `true` or `false`.
        case boolean
        /// A percentage from 0 to 100, `%` optional (`10%`).
        case percentage
        /// One of these words.
        case oneOf([String])
        /// A string or a list of strings.
        case strings
        /// Event types from the catalogue, `prefix.*` or `*`; one or a list.
        case eventPatterns
        /// Paths under `data.`; one or a list.
        case paths
        /// A mapping of `data.` paths to `data.` paths.
        case pathMap
        /// A mapping of `data.` paths to any value.
        case valueMap
        /// A mapping of names to strings.
        case stringMap
        /// A rate such as `50/s`, `600/m` or `3000/h`, or a mapping of it and a burst.
        case rate
        /// Any value.
        case any
        /// A mapping with exactly these keys.
        case mapping([ConfigKey])
        /// `true`, `false`, or a mapping with exactly these keys (`pause:`).
        case switchedMapping([ConfigKey])
        /// A structure described elsewhere in the schema (`source`, `sink`, `steps`, …).
        case reference(String)
    }

    /// The key.
    public var name: String
    /// What its value must be.
    public var value: Value
    /// Whether the mapping must have it.
    public var required: Bool
    /// One sentence for people: shown by editors and in the schema.
    public var description: String

    public init(_ name: String, _ value: Value, required: Bool = false, _ description: String) {
        self.name = name
        self.value = value
        self.required = required
        self.description = description
    }
}

extension Array where Element == ConfigKey {
    /// The keys' names, for ``ConfigReader/mapping(_:allowedKeys:in:nameNode:)``.
    public var names: [String] { map(\.name) }
}

/// The keys of the pipeline file's own mappings (stage options live with their factories).
public enum PipelineKeys {
    /// The top level of a pipeline file.
    public static let topLevel: [ConfigKey] = [
        ConfigKey("pipeline", .name, "The pipeline's name; defaults to the file name. It is part of every delivery id."),
        ConfigKey("description", .string, "What the pipeline is for, for people."),
        ConfigKey("source", .reference("source"), required: true, "Where events come from: file, stdin, sample or http."),
        ConfigKey("filter", .mapping(filter), "Which events the pipeline takes; without it, every event."),
        ConfigKey("transform", .reference("steps"), "Ordered steps over the envelope's data."),
        ConfigKey("sign", .mapping(sign), "How deliveries are signed; secrets come from the environment or a file."),
        ConfigKey("sinks", .reference("sinks"), required: true, "Where deliveries go, by sink name."),
    ]

    /// `filter:`.
    public static let filter: [ConfigKey] = [
        ConfigKey("events", .eventPatterns, "Event types to take: exact names, 'prefix.*' or '*' (default: every event)."),
        ConfigKey("exclude", .eventPatterns, "Event types to leave out even when 'events' takes them."),
        ConfigKey(
            "where", .string,
            "A condition over the envelope that an event must also meet, e.g. 'data.points >= 500 and data.tier in [\"gold\"]'; "
                + "comparisons, in, and/or/not, parentheses, exists(path), starts_with(path, \"…\")."),
    ]

    /// `sign:`.
    public static let sign: [ConfigKey] = [
        ConfigKey("scheme", .oneOf(SignatureSchemes.names), "The signature scheme: loyali (X-Loyali-Signature, the default) or standard-webhooks."),
        ConfigKey("secrets", .strings, "Signing secrets as \"${VAR}\" references, one signature each; an empty one (an unset ${VAR:-}) is skipped, which stages a rotation."),
        ConfigKey("secret_file", .string, "A file holding one secret per line, instead of or beside 'secrets'."),
    ]

    /// A sink's `retry:`.
    public static let retry: [ConfigKey] = [
        ConfigKey("schedule", .durations(maximum: .maximumRetryDelay, count: 100), "The delay before each attempt; its length is the number of attempts (default [0s, 1m, 5m, 30m, 2h])."),
        ConfigKey("jitter", .percentage, "Moves each retry's delay by up to this share either way, e.g. 10%."),
        ConfigKey("max_retry_after", .duration(maximum: .maximumRetryDelay), "The longest Retry-After (on 429/503) that is honoured (default 1h)."),
    ]

    /// Keys every sink has beside its type's own.
    public static let sinkCommon: [ConfigKey] = [
        ConfigKey("type", .reference("sinkType"), required: true, "The sink type."),
        ConfigKey("retry", .mapping(retry), "How failed attempts are retried."),
        ConfigKey(
            "pause", .switchedMapping(pause),
            "When a failing sink is paused (its deliveries wait, probed at growing intervals) and disabled; false turns it off (default: after 10 consecutive failures, disabled after 5d)."),
        ConfigKey(
            "rate_limit", .rate,
            "The most attempts per second, minute or hour this sink sends (e.g. 50/s, 600/m), retries included; a 429 without Retry-After halves it for a while."),
        ConfigKey(
            "ordering", .mapping(ordering),
            "Deliveries whose events share a key are sent one at a time, in source order; a later one waits until the earlier one succeeded or finally failed."),
    ]

    /// A sink's `rate_limit:` in its mapping form.
    public static let rateLimit: [ConfigKey] = [
        ConfigKey("rate", .string, required: true, "The rate: a number, '/', and s, m or h, e.g. 50/s."),
        ConfigKey("burst", .integer(1...1_000_000), "Attempts that may go at once after a quiet spell (default: 50 ms worth of the rate, at least 1, so any second sees at most 5% over the rate)."),
    ]

    /// A sink's `ordering:`.
    public static let ordering: [ConfigKey] = [
        ConfigKey(
            "key", .string, required: true,
            "A path into the event, as in filter.where (e.g. data.customer_id); events without it are sent in no particular order."),
    ]

    /// A sink's `pause:`.
    public static let pause: [ConfigKey] = [
        ConfigKey("after", .integer(0...1_000_000), "Consecutive failed attempts that pause the sink (default 10; 0: never on a count)."),
        ConfigKey("failure_rate", .percentage, "A share of failed attempts within 'window' that pauses the sink, e.g. 50% (default: off)."),
        ConfigKey("window", .duration(maximum: .seconds(86_400)), "The window failure_rate is measured over (default 5m)."),
        ConfigKey("min_attempts", .integer(1...1_000_000), "Attempts the window must hold before failure_rate counts (default 20)."),
        ConfigKey("probe", .duration(maximum: .seconds(86_400)), "The wait before the first probe of a paused sink; each failed probe doubles it (default 30s)."),
        ConfigKey("probe_max", .duration(maximum: .seconds(86_400)), "The longest wait between probes (default 30m)."),
        ConfigKey("disable_after", .duration(maximum: .maximumRetryDelay), "Failing this long without a success disables the sink until it is enabled again (default 5d; 0s: never)."),
    ]
}
