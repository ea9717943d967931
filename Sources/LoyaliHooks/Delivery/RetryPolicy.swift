/// A sink's `retry:` settings. The guide's default schedule is immediate, 1m, 5m, 30m, 2h: five
/// attempts, after which the delivery is `failed` and can be resent by hand.
///
/// ```yaml
/// retry: { schedule: [0s, 1m, 5m, 30m, 2h], jitter: 10%, max_retry_after: 1h }
/// ```
public struct RetryPolicy: Sendable, Equatable {
    /// The delay before each attempt; its count is the number of attempts.
    public var schedule: [Duration]
    /// Each delay is moved by up to this fraction either way (0.1 for `10%`).
    public var jitter: Double
    /// The longest `Retry-After` (on 429/503) that is honoured.
    public var maxRetryAfter: Duration

    /// The guide's schedule.
    public static let standard = RetryPolicy(
        schedule: [.zero, .seconds(60), .seconds(300), .seconds(1_800), .seconds(7_200)],
        jitter: 0, maxRetryAfter: .seconds(3_600))

    public init(schedule: [Duration], jitter: Double, maxRetryAfter: Duration) {
        self.schedule = schedule
        self.jitter = jitter
        self.maxRetryAfter = maxRetryAfter
    }

    /// How many attempts the schedule allows.
    public var maxAttempts: Int { schedule.count }
}

extension ConfigReader {
    /// Reads `retry:`; absent means ``RetryPolicy/standard``.
    func retryPolicy(_ node: YAMLNode?) -> RetryPolicy? {
        guard let node else { return .standard }
        guard let mapping = mapping(node, allowedKeys: PipelineKeys.retry.names, in: "retry") else { return nil }
        var policy = RetryPolicy.standard
        // Every key is checked even after one fails, so all problems are reported in one go.
        var valid = true
        if let scheduleNode = mapping["schedule"] {
            if case .sequence(let items) = scheduleNode.content, !items.isEmpty {
                let delays = items.compactMap { duration($0, what: "retry.schedule item", maximum: .maximumRetryDelay) }
                if delays.count != items.count {
                    valid = false
                } else if delays.count > 100 {
                    error("retry.schedule has \(delays.count) attempts; at most 100 are allowed", at: scheduleNode)
                    valid = false
                } else {
                    policy.schedule = delays
                }
            } else {
                error("retry.schedule must be a non-empty list of durations, e.g. [0s, 1m, 5m, 30m, 2h]", at: scheduleNode)
                valid = false
            }
        }
        if let jitterNode = mapping["jitter"], let text = string(jitterNode, what: "retry.jitter") {
            let number = text.hasSuffix("%") ? String(text.dropLast()) : text
            if let percent = Double(number), (0...100).contains(percent) {
                policy.jitter = percent / 100
            } else {
                error("retry.jitter must be a percentage between 0% and 100%, not \(quoted(jitterNode, text))", at: jitterNode)
                valid = false
            }
        }
        if let capNode = mapping["max_retry_after"] {
            if let cap = duration(capNode, what: "retry.max_retry_after", maximum: .maximumRetryDelay) {
                policy.maxRetryAfter = cap
            } else {
                valid = false
            }
        }
        guard valid else { return nil }
        return policy
    }
}
