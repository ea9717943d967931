/// A sink's health as the store keeps it: healthy, paused (its circuit is open: deliveries wait
/// and a probe goes out now and then) or disabled (nothing goes out until it is enabled again).
///
/// Kept in the store so it survives a restart, is shared by every node of a shared store, and can
/// be changed by `loyali-hooks sinks enable|disable` or the admin API while `serve` runs. Every
/// write is a compare-and-set on ``version`` (see ``DeliveryStore/writeSinkState(_:expectedVersion:nowMs:)``),
/// so two nodes never both make the same transition.
public struct SinkState: Sendable, Equatable {
    /// The states a sink can be in.
    public enum Status: String, Sendable, CaseIterable {
        case healthy, paused, disabled
    }

    public var pipeline: String
    public var sink: String
    public var status: Status
    /// When the sink's deliveries stopped going out (it was paused, or disabled while healthy);
    /// `nil` while healthy. On a return to healthy, due times after it move on by the time since,
    /// so the schedules of waiting deliveries are frozen meanwhile.
    public var frozenSinceMs: Int64?
    /// When ``status`` last changed (`nil`: never).
    public var changedAtMs: Int64?
    /// While paused: when the next probe is due, "paused until".
    public var nextProbeMs: Int64?
    /// While paused: the wait before ``nextProbeMs``, doubled after each failed probe.
    public var probeIntervalMs: Int64?
    /// Failed attempts since the last success.
    public var consecutiveFailures: Int
    /// When the current run of failures began; `nil` after a success.
    public var failingSinceMs: Int64?
    /// Why the status is what it is, for people.
    public var reason: String
    /// Whether the node that made the last transition has told its observers. A change made by
    /// the CLI or the admin API is not: the first node to see it does, once.
    public var announced: Bool
    /// Bumped by every write; 0 for a sink that has no stored state.
    public var version: Int64
    /// The transition that made ``status`` what it is (`nil`: none, or stored by an older build),
    /// so a change not ``announced`` yet is announced as what it was after a restart: a resume
    /// and an enabling both end healthy.
    public var lastChange: SinkStateChange.Kind?

    public init(
        pipeline: String, sink: String, status: Status = .healthy, frozenSinceMs: Int64? = nil, changedAtMs: Int64? = nil,
        nextProbeMs: Int64? = nil, probeIntervalMs: Int64? = nil, consecutiveFailures: Int = 0, failingSinceMs: Int64? = nil,
        reason: String = "", announced: Bool = true, version: Int64 = 0, lastChange: SinkStateChange.Kind? = nil
    ) {
        self.pipeline = pipeline
        self.sink = sink
        self.status = status
        self.frozenSinceMs = frozenSinceMs
        self.changedAtMs = changedAtMs
        self.nextProbeMs = nextProbeMs
        self.probeIntervalMs = probeIntervalMs
        self.consecutiveFailures = consecutiveFailures
        self.failingSinceMs = failingSinceMs
        self.reason = reason
        self.announced = announced
        self.version = version
        self.lastChange = lastChange
    }

    /// "healthy", "paused until T" or "disabled since T", times in RFC 3339.
    public var summary: String {
        switch status {
        case .healthy: "healthy"
        case .paused: "paused until " + (nextProbeMs.map { RFC3339.format(unixSeconds: $0 / 1000) } ?? "its next probe")
        case .disabled: "disabled since " + (changedAtMs.map { RFC3339.format(unixSeconds: $0 / 1000) } ?? "?")
        }
    }

    /// The state as JSON; see ``DeliveryJSON/sinkState(_:)``.
    public var json: JSONValue { DeliveryJSON.sinkState(self) }
}

extension [SinkState] {
    /// The state of one sink, if listed.
    public func first(pipeline: String, sink: String) -> SinkState? {
        first { $0.pipeline == pipeline && $0.sink == sink }
    }
}

/// One transition of a sink's health, as ``DeliveryObserver/sinkStateChanged(_:)`` reports it.
public struct SinkStateChange: Sendable, Equatable {
    /// What happened, named as the operational events are.
    public enum Kind: String, Sendable {
        /// Healthy to paused: its circuit opened.
        case paused
        /// Paused to healthy: a probe (or an attempt) succeeded.
        case resumed
        /// To disabled: it failed for `disable_after`, or someone disabled it.
        case disabled
        /// Disabled to healthy: someone enabled it.
        case enabled
    }

    public var kind: Kind
    /// The state after the change.
    public var state: SinkState
    /// The status before it.
    public var previous: SinkState.Status

    /// The change `kind` that led to `state`, as stored with it (``SinkState/lastChange``); `seen`
    /// is the status the announcing node knew, the status before a `disabled`, unless that is
    /// `disabled` itself.
    public init(kind: Kind, state: SinkState, seen: SinkState.Status) {
        self.kind = kind
        self.state = state
        switch kind {
        case .paused: previous = .healthy
        case .resumed: previous = .paused
        case .enabled: previous = .disabled
        case .disabled: previous = seen == .disabled ? .healthy : seen
        }
    }

    /// The change from `previous` to `state`, or `nil` when the status did not change.
    public init?(from previous: SinkState.Status, to state: SinkState) {
        switch (previous, state.status) {
        case (.healthy, .paused): kind = .paused
        case (.paused, .healthy): kind = .resumed
        case (.healthy, .disabled), (.paused, .disabled): kind = .disabled
        case (.disabled, .healthy), (.disabled, .paused): kind = .enabled
        default: return nil
        }
        self.previous = previous
        self.state = state
    }
}
