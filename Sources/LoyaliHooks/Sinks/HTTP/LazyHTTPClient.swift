import Synchronization

/// A ``CurlHTTPClient`` created on first use. ``process`` is the one every `http` sink of the
/// process shares, so that connection limits hold across sinks and threads do not grow with them.
public final class LazyHTTPClient: Sendable {
    /// The process's transport. Set its limits with ``configure(_:)`` and its allowed networks
    /// with ``configure(allowedNetworks:)`` before the first delivery.
    public static let process = LazyHTTPClient()

    private struct State {
        var limits: ConnectionLimits?
        var allowedNetworks: [IPNetwork] = []
        var client: CurlHTTPClient?
    }

    private let state: Mutex<State>
    /// The client's thread count; `nil` for its default.
    private let threads: Int?
    /// `CURLOPT_RESOLVE` entries for the client; tests only.
    private let resolve: [String]
    /// Tests only: see ``CurlClientCore/connectHook``.
    private let connectHook: (@Sendable (IPAddress) -> Bool)?

    /// A client made with `limits` on first use (the process defaults when `nil`).
    public init(limits: ConnectionLimits? = nil) {
        state = Mutex(State(limits: limits))
        threads = nil
        resolve = []
        connectHook = nil
    }

    /// A client of `threads` threads, for tests, resolving names as `resolve` says first
    /// (`CURLOPT_RESOLVE` entries, `host:port:address`), with `connectHook` asked about every
    /// address the guard admits (see ``CurlClientCore/connectHook``).
    init(
        limits: ConnectionLimits, threads: Int, allowedNetworks: [IPNetwork] = [], resolve: [String] = [],
        connectHook: (@Sendable (IPAddress) -> Bool)? = nil
    ) {
        state = Mutex(State(limits: limits, allowedNetworks: allowedNetworks))
        self.threads = threads
        self.resolve = resolve
        self.connectHook = connectHook
    }

    /// Sets the limits the client is made with. Returns `false`, changing nothing, once the
    /// client has started: limits are fixed for its lifetime.
    @discardableResult
    public func configure(_ limits: ConnectionLimits) -> Bool {
        state.withLock { state in
            guard state.client == nil else { return false }
            state.limits = limits
            return true
        }
    }

    /// Sets the internal blocks the SSRF guard lets every request reach (`--allow-network`).
    /// Returns `false`, changing nothing, once the client has started.
    @discardableResult
    public func configure(allowedNetworks: [IPNetwork]) -> Bool {
        state.withLock { state in
            guard state.client == nil else { return false }
            state.allowedNetworks = allowedNetworks
            return true
        }
    }

    /// The limits the client has, or will be made with.
    public var limits: ConnectionLimits {
        state.withLock { $0.client?.limits ?? $0.limits } ?? .defaults()
    }

    /// The blocks every request may reach, which the client has or will be made with.
    public var allowedNetworks: [IPNetwork] {
        state.withLock { $0.client?.allowedNetworks ?? $0.allowedNetworks }
    }

    /// The client, started now if needed.
    public func get() throws(HTTPTransportError) -> CurlHTTPClient {
        try state.withLock { (state: inout State) throws(HTTPTransportError) -> CurlHTTPClient in
            if let existing = state.client { return existing }
            let created = try CurlHTTPClient(
                limits: state.limits ?? .defaults(), threads: threads, allowedNetworks: state.allowedNetworks, resolve: resolve,
                connectHook: connectHook)
            state.client = created
            return created
        }
    }

    /// The client if it was ever started.
    public var started: CurlHTTPClient? { state.withLock { $0.client } }
}
