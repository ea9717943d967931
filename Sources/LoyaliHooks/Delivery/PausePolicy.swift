/// A sink's `pause:` settings: when its circuit opens (the sink is paused), how often a paused
/// sink is probed, and when a sink that keeps failing is disabled.
///
/// ```yaml
/// pause: { after: 10, failure_rate: 50%, window: 5m, min_attempts: 20, probe: 30s, probe_max: 30m, disable_after: 5d }
/// ```
///
/// Every sink has these defaults without a `pause:` block; `pause: false` turns pausing and
/// disabling off for the sink (it then retries every delivery on its own schedule, as before).
public struct PausePolicy: Sendable, Equatable {
    /// Consecutive failed attempts that open the circuit; `nil`: never on a count.
    public var consecutiveFailures: Int?
    /// A share of failed attempts (0…1) within ``window`` that opens the circuit; `nil`: never on
    /// a rate.
    public var failureRate: Double?
    /// The window ``failureRate`` is measured over.
    public var window: Duration
    /// Attempts the window must hold before its rate counts.
    public var minAttempts: Int
    /// The wait before the first probe of a paused sink; each failed probe doubles it.
    public var probe: Duration
    /// The longest wait between probes.
    public var probeMax: Duration
    /// How long a sink may fail without one success before it is disabled; `nil`: never.
    public var disableAfter: Duration?

    /// The defaults: pause after 10 consecutive failures, probe after 30 s doubling up to 30 min,
    /// disable after 5 days of failure (as Svix does).
    public static let standard = PausePolicy(
        consecutiveFailures: 10, failureRate: nil, window: .seconds(300), minAttempts: 20,
        probe: .seconds(30), probeMax: .seconds(1_800), disableAfter: .seconds(5 * 86_400))

    public init(
        consecutiveFailures: Int?, failureRate: Double?, window: Duration, minAttempts: Int, probe: Duration,
        probeMax: Duration, disableAfter: Duration?
    ) {
        self.consecutiveFailures = consecutiveFailures
        self.failureRate = failureRate
        self.window = window
        self.minAttempts = minAttempts
        self.probe = probe
        self.probeMax = probeMax
        self.disableAfter = disableAfter
    }

    /// The wait after a probe that waited `previousMs` failed: doubled, at most ``probeMax``.
    func nextProbeInterval(after previousMs: Int64) -> Int64 {
        min(max(1, previousMs).saturatingMultiply(2), max(probe.totalMilliseconds, probeMax.totalMilliseconds))
    }
}

extension ConfigReader {
    /// Reads `pause:`: absent or `true` means ``PausePolicy/standard``, `false` means `nil` (off).
    /// `after: 0` or `disable_after: 0s` turns that trigger off alone.
    func pausePolicy(_ node: YAMLNode?) -> PausePolicy?? {
        guard let node else { return .some(.standard) }
        if node.scalar != nil {
            guard let on = bool(node, what: "pause") else { return nil }
            return on ? .some(.standard) : .some(nil)
        }
        guard let mapping = mapping(node, allowedKeys: PipelineKeys.pause.names, in: "pause") else { return nil }
        var policy = PausePolicy.standard
        // Every key is checked even after one fails, so all problems are reported in one go.
        var valid = true
        if let after = mapping["after"] {
            if let count = integer(after, what: "pause.after", in: 0...1_000_000) {
                policy.consecutiveFailures = count == 0 ? nil : count
            } else {
                valid = false
            }
        }
        if let rateNode = mapping["failure_rate"], let text = string(rateNode, what: "pause.failure_rate") {
            let number = text.hasSuffix("%") ? String(text.dropLast()) : text
            if let percent = Double(number), percent > 0, percent <= 100 {
                policy.failureRate = percent / 100
            } else {
                error("pause.failure_rate must be a percentage above 0% and at most 100%, not \(quoted(rateNode, text))", at: rateNode)
                valid = false
            }
        }
        if let windowNode = mapping["window"] {
            if let window = positiveDuration(windowNode, what: "pause.window") { policy.window = window } else { valid = false }
        }
        if let minimum = mapping["min_attempts"] {
            if let count = integer(minimum, what: "pause.min_attempts", in: 1...1_000_000) { policy.minAttempts = count } else { valid = false }
        }
        var probeNode: YAMLNode?
        if let node = mapping["probe"] {
            probeNode = node
            if let probe = positiveDuration(node, what: "pause.probe") {
                policy.probe = probe
                // A first wait above the default ceiling raises the ceiling with it.
                if mapping["probe_max"] == nil { policy.probeMax = max(policy.probeMax, probe) }
            } else {
                valid = false
            }
        }
        if let node = mapping["probe_max"] {
            if let probeMax = duration(node, what: "pause.probe_max", maximum: .seconds(86_400)) {
                if probeMax < policy.probe {
                    error("pause.probe_max (\(probeMax.configDescription)) must be at least pause.probe (\(policy.probe.configDescription))", at: probeNode ?? node)
                    valid = false
                } else {
                    policy.probeMax = probeMax
                }
            } else {
                valid = false
            }
        }
        if let node = mapping["disable_after"] {
            if let after = duration(node, what: "pause.disable_after") {
                policy.disableAfter = after == .zero ? nil : after
            } else {
                valid = false
            }
        }
        if policy.failureRate == nil, mapping["window"] != nil || mapping["min_attempts"] != nil {
            warning("pause.window and pause.min_attempts only matter with pause.failure_rate", at: node)
        }
        guard valid else { return nil }
        return .some(policy)
    }

    /// A duration above zero and at most a day.
    private func positiveDuration(_ node: YAMLNode, what: String) -> Duration? {
        guard let value = duration(node, what: what, maximum: .seconds(86_400)) else { return nil }
        guard value > .zero else {
            error("\(what) must be longer than 0s", at: node)
            return nil
        }
        return value
    }
}
