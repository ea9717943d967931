import Foundation

/// The HTTP transport: sends ``HTTPRequest``s over libcurl's multi interface on dedicated
/// threads, reusing keep-alive connections. One client serves every sink of the process
/// (``LazyHTTPClient/process``), so threads and connections do not grow with the number of sinks.
///
/// - Blocking network work never runs on Swift's cooperative pool or on GCD: each of the
///   client's `Thread`s (at most one per core) drives its own multi handle with `curl_multi_poll`.
/// - Each destination (scheme, host, port) is served by one thread, chosen by its hash, so that
///   one multi handle owns all of its connections and the per-destination cap is exact.
/// - At most ``ConnectionLimits/maxConnectionsPerHost`` connections to one destination and
///   ``ConnectionLimits/maxConnections`` in all, idle ones included. Requests beyond that wait in
///   order in the client's own queue, before libcurl sees them, so their deadlines do not run
///   while they wait; destinations with waiting requests take turns.
/// - Redirects are never followed, TLS is always verified, only `http` and `https` are allowed,
///   environment proxies are ignored, and every request has an overall and a connect deadline.
/// - A response body is kept up to the request's cap, and a longer one is cut off unread.
///
/// Completion handlers run on a client thread, one after another per thread: keep them short, and
/// hand longer work elsewhere. A handler may call ``send(_:completion:)`` again.
public final class CurlHTTPClient: Sendable {
    /// One per thread; each owns its share of the global cap and the destinations hashed to it.
    private let cores: [CurlClientCore]
    /// The limits the client was made with.
    public let limits: ConnectionLimits
    /// Internal blocks every request may connect to (`--allow-network`), beside each request's
    /// own ``HTTPRequest/allowedNetworks``.
    public let allowedNetworks: [IPNetwork]

    /// A client within `limits`.
    ///
    /// A curl thread spent about 40 µs of CPU per request when measured (libcurl, the kernel's
    /// side of the socket, the callbacks), so one thread tops out near 25,000 requests/s: there is
    /// one thread per core, fewer when the global cap is small (each thread holds an even share of
    /// it, at least 256 connections); `threads` overrides that.
    ///
    /// Every connection passes the SSRF guard (``AddressGuard``); `allowedNetworks` opens blocks
    /// of internal addresses up for every request.
    public convenience init(
        limits: ConnectionLimits = .defaults(), threads: Int? = nil, allowedNetworks: [IPNetwork] = []
    ) throws(HTTPTransportError) {
        try self.init(limits: limits, threads: threads, allowedNetworks: allowedNetworks, resolve: [], connectHook: nil)
    }

    /// A client for tests: its handles take `resolve` as `CURLOPT_RESOLVE` entries
    /// (`host:port:address`), so that a name can point at loopback without DNS, and
    /// `connectHook` sees (and may still refuse) every address the guard admits.
    init(
        limits: ConnectionLimits, threads: Int?, allowedNetworks: [IPNetwork], resolve: [String],
        connectHook: (@Sendable (IPAddress) -> Bool)?
    ) throws(HTTPTransportError) {
        self.limits = limits
        self.allowedNetworks = allowedNetworks
        let total = limits.maxConnections
        let count = max(1, min(total, threads ?? min(ProcessInfo.processInfo.activeProcessorCount, total / 256)))
        var cores: [CurlClientCore] = []
        for index in 0..<count {
            // The cap split as evenly as it goes: 33 over 2 threads is 17 + 16.
            let share = total / count + (index < total % count ? 1 : 0)
            let core = try CurlClientCore(
                maxConnections: share, maxConnectionsPerHost: limits.maxConnectionsPerHost, allowedNetworks: allowedNetworks,
                resolve: resolve, connectHook: connectHook)
            let loop = CurlTransferLoop(core: core)
            let thread = Thread { loop.run() }
            // At most 15 characters: Linux drops longer thread names.
            thread.name = "loyali-curl"
            thread.start()
            cores.append(core)
        }
        self.cores = cores
    }

    /// The client's transfer threads.
    public var threadCount: Int { cores.count }

    deinit {
        // Nothing can call `send` any more: cancel whatever is left, without waiting.
        for core in cores { _ = core.requestStop(by: .now, waiter: nil) }
    }

    /// Sends `request` and calls `completion` once with the outcome, on a client thread.
    ///
    /// Two outcomes are known at once and reported on the caller's thread, before this returns:
    /// `invalid_request` for a header that cannot be sent safely, and `cancelled` once
    /// ``shutdown(grace:)`` has begun.
    public func send(_ request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        // The C-side request is built here, on the caller's thread, to keep the loop threads free
        // for network work.
        let transfer: CurlTransfer
        do {
            transfer = try CurlTransfer(request: request, completion: completion)
        } catch {
            completion(HTTPResponse(outcome: .failure(error), durationMs: 0))
            return
        }
        guard core(for: transfer.destination).enqueue(transfer) else {
            completion(HTTPResponse(
                outcome: .failure(HTTPTransportError(.cancelled, "the HTTP client is shut down")), durationMs: 0))
            return
        }
    }

    /// The thread serving `destination`: always the same one, so its connections live in one
    /// multi handle.
    private func core(for destination: HTTPDestination) -> CurlClientCore {
        guard cores.count > 1 else { return cores[0] }
        return cores[Int(UInt(bitPattern: destination.hashValue) % UInt(cores.count))]
    }

    /// Sends `request` and returns the outcome.
    public func send(_ request: HTTPRequest) async -> HTTPResponse {
        await withCheckedContinuation { continuation in
            send(request) { continuation.resume(returning: $0) }
        }
    }

    /// Stops taking requests, lets those already accepted finish for up to `grace`, then cancels
    /// the rest (completing them with `cancelled`) and ends the client's threads. Returns when
    /// every accepted request has been completed.
    public func shutdown(grace: Duration) async {
        let deadline = ContinuousClock.now + grace
        // Every thread stops taking requests first; then each is waited for.
        for core in cores { _ = core.requestStop(by: deadline, waiter: nil) }
        for core in cores {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                if core.requestStop(by: deadline, waiter: continuation) {
                    continuation.resume()
                }
            }
        }
    }
}
