import Synchronization

/// What a ``CurlHTTPClient`` and one of its loop threads share: the multi handle (for wake-ups),
/// the queue of requests handed over to the loop, and the thread's connection limits.
final class CurlClientCore: Sendable {
    /// Everything behind the lock.
    struct State {
        /// Requests not yet taken by the loop, oldest first.
        var queue: [CurlTransfer] = []
        /// Whether `send` still takes requests.
        var accepting = true
        /// The loop is in, or about to enter, `curl_multi_poll` and must be woken for new work.
        /// Senders wake it only then, so a busy loop costs no wake-up system calls.
        var loopSleeping = false
        /// When set, the loop finishes what it has until this instant, then cancels the rest.
        var stopDeadline: ContinuousClock.Instant?
        /// The loop thread has ended; everything it held has been completed.
        var finished = false
        /// `shutdown` callers waiting for the loop to end.
        var finishWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// The multi handle; only its thread-safe wake-up is used off the loop thread.
    let multi: CurlMultiHandle
    /// Connections this thread holds at once, at most: its share of the global cap.
    let maxConnections: Int
    /// Connections to one destination at once, at most. Every destination is served by one
    /// thread only, so this is the whole process's cap for it.
    let maxConnectionsPerHost: Int
    /// Blocks the SSRF guard allows for every request (`--allow-network`).
    let allowedNetworks: [IPNetwork]
    /// `CURLOPT_RESOLVE` entries for every handle; tests only.
    let resolve: [String]
    /// Asked about every address the guard admits, just before its socket is opened; a `false`
    /// refuses it after all. Tests only: they record what would be connected to, and keep every
    /// connection on loopback even if the guard were wrong.
    let connectHook: (@Sendable (IPAddress) -> Bool)?
    /// The shared state.
    let state = Mutex(State())

    init(
        maxConnections: Int, maxConnectionsPerHost: Int, allowedNetworks: [IPNetwork], resolve: [String],
        connectHook: (@Sendable (IPAddress) -> Bool)?
    ) throws(HTTPTransportError) {
        self.allowedNetworks = allowedNetworks
        self.resolve = resolve
        self.connectHook = connectHook
        self.maxConnections = maxConnections
        self.maxConnectionsPerHost = min(maxConnectionsPerHost, maxConnections)
        multi = try CurlMultiHandle(maxConnections: maxConnections, perHost: self.maxConnectionsPerHost)
    }

    /// Queues `transfer`, or returns `false` once the client is shutting down.
    func enqueue(_ transfer: CurlTransfer) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, Bool) in
            guard state.accepting else { return (false, false) }
            state.queue.append(transfer)
            let wake = state.loopSleeping
            state.loopSleeping = false
            return (true, wake)
        }
        if wake { multi.wakeup() }
        return accepted
    }

    /// Stops taking requests and asks the loop to end by `deadline` (an earlier deadline from an
    /// earlier call stays). Returns `true` if the loop has already ended.
    func requestStop(by deadline: ContinuousClock.Instant, waiter: CheckedContinuation<Void, Never>?) -> Bool {
        let finished = state.withLock { state -> Bool in
            state.accepting = false
            state.stopDeadline = min(state.stopDeadline ?? deadline, deadline)
            state.loopSleeping = false
            if !state.finished, let waiter { state.finishWaiters.append(waiter) }
            return state.finished
        }
        multi.wakeup()
        return finished
    }
}
