import Synchronization

/// What the admin listener reads and triggers: its own store connection, the metrics, the
/// configuration running now, readiness, and the daemon's reload. ``ServeDaemon`` keeps it up to
/// date; the admin endpoint never holds the daemon itself.
public final class AdminContext: Sendable {
    /// A second connection to the state store: in WAL mode its reads never wait behind the
    /// runners' and the ingest committer's writes.
    public let store: any DeliveryStore
    /// The counters behind `/metrics`.
    public let metrics: ServeMetrics
    /// The token `/api/` and `/metrics` require, if any.
    public let token: BearerToken?
    /// The time source (for `since` filters and resends).
    public let clock: any DeliveryClock
    /// The key to the dashboard's login and to the mutating endpoints: ``token`` when one is
    /// configured, else one `serve` made up at start (and wrote to its state directory), so that
    /// resend, reload and test-send need a token or a session even on loopback.
    public let loginToken: BearerToken
    /// The names the listener may be reached by (`Host`), lowercased and without port: a request
    /// under any other name is refused, which stops DNS-rebinding attacks. With `0.0.0.0` or `::`
    /// among them, any IP literal is accepted too.
    public let hostNames: Set<String>
    /// The dashboard's login sessions.
    public let sessions: AdminSessions
    /// The environment pipeline files are read with (the dashboard's validate and preview).
    public let environment: [String: String]
    private let state = Mutex<State>(State())
    private let hooks: Mutex<Hooks>

    private struct State {
        var pipelines: [PipelineDefinition] = []
        var generation = 0
        var ready = false
        var notReadyReason = "starting"
        var runners = 0
    }

    /// Actions the daemon performs for the API.
    public struct Hooks: Sendable {
        /// Reloads the configuration; returns the diagnostics when it was refused.
        public var reload: @Sendable () -> [Diagnostic]?
        /// Tells the runners that resent deliveries are due now.
        public var resent: @Sendable () -> Void
        /// Group-commit totals of the ingest committer.
        public var commits: @Sendable () -> (transactions: Int, deliveries: Int, requests: Int)
        /// Why the runners' store cannot be written now (a full disk), or `nil`: while it says
        /// why, the process is not ready, and it is again as soon as a write succeeds.
        public var writeFailure: @Sendable () -> String?

        /// Makes hooks; the defaults do nothing.
        public init(
            reload: @escaping @Sendable () -> [Diagnostic]? = { nil }, resent: @escaping @Sendable () -> Void = {},
            commits: @escaping @Sendable () -> (transactions: Int, deliveries: Int, requests: Int) = { (0, 0, 0) },
            writeFailure: @escaping @Sendable () -> String? = { nil }
        ) {
            self.reload = reload
            self.resent = resent
            self.commits = commits
            self.writeFailure = writeFailure
        }
    }

    /// A context over `store` (a connection of the admin's own) and `metrics`. Without
    /// `loginToken`, the login key is `token`, or a random one when that is `nil` too. `hostNames`
    /// are the names the listener answers to (default: loopback ones).
    public init(
        store: any DeliveryStore, metrics: ServeMetrics, token: BearerToken?, clock: any DeliveryClock = SystemClock(), hooks: Hooks = Hooks(),
        loginToken: BearerToken? = nil, hostNames: [String] = ["127.0.0.1", "localhost", "::1"],
        sessions: AdminSessions = AdminSessions(),
        environment: [String: String] = [:]
    ) {
        self.store = store
        self.metrics = metrics
        self.token = token
        self.clock = clock
        self.hooks = Mutex(hooks)
        self.loginToken = loginToken ?? token ?? BearerToken(AdminSessions.randomToken())!
        self.hostNames = Set(hostNames.map { $0.lowercased() })
        self.sessions = sessions
        self.environment = environment
    }

    /// Installs the daemon's actions.
    public func setHooks(_ newHooks: Hooks) { hooks.withLock { $0 = newHooks } }

    var currentHooks: Hooks { hooks.withLock { $0 } }

    /// Records the configuration now running.
    public func setConfiguration(_ pipelines: [PipelineDefinition], generation: Int) {
        state.withLock {
            $0.pipelines = pipelines
            $0.generation = generation
        }
    }

    /// Marks the process ready (store open, pipelines loaded, listeners bound) or not, and why.
    public func setReady(_ ready: Bool, reason: String = "") {
        state.withLock {
            $0.ready = ready
            $0.notReadyReason = reason
        }
    }

    /// Records how many runners are delivering.
    public func setRunners(_ count: Int) { state.withLock { $0.runners = count } }

    /// The configuration running now and its generation.
    public var configuration: (pipelines: [PipelineDefinition], generation: Int) {
        state.withLock { ($0.pipelines, $0.generation) }
    }

    /// Whether the process is ready, and if not why: started and not stopping, and its store
    /// taking writes.
    public var readiness: (ready: Bool, reason: String) {
        let (ready, reason) = state.withLock { ($0.ready, $0.notReadyReason) }
        guard ready else { return (false, reason) }
        if let failure = currentHooks.writeFailure() { return (false, "the state store cannot be written: \(failure)") }
        return (true, "")
    }

    /// Runners delivering now.
    public var runners: Int { state.withLock { $0.runners } }
}
