import Foundation

/// The HTTP transport: sends ``HTTPRequest``s over libcurl's multi interface on dedicated
/// threads, reusing keep-alive connections.
///
/// - Blocking network work never runs on Swift's cooperative pool or on GCD: each of the
///   client's `Thread`s drives its own multi handle with `curl_multi_poll`.
/// - At most `maxInFlight` requests run at once, over at most as many connections; more wait in
///   order.
/// - Redirects are never followed, TLS is always verified, only `http` and `https` are allowed,
///   environment proxies are ignored, and every request has an overall and a connect deadline.
/// - A response body is kept up to the request's cap, and a longer one is cut off unread.
///
/// Completion handlers run on a client thread, one after another per thread: keep them short, and
/// hand longer work elsewhere. A handler may call ``send(_:completion:)`` again.
public final class CurlHTTPClient: Sendable {
    /// One per thread; each owns its share of the in-flight limit and of the connections.
    private let cores: [CurlClientCore]

    /// A client running at most `maxInFlight` requests at once, and keeping as many connections
    /// open for reuse.
    ///
    /// A curl thread spent about 40 µs of CPU per request when measured (libcurl, the kernel's
    /// side of the socket, the callbacks), so one thread tops out near 25,000 requests/s; a busy
    /// sink gets one thread per 16 requests in flight, up to one per core (`threads` overrides
    /// that).
    public init(maxInFlight: Int = 32, threads: Int? = nil) throws(HTTPTransportError) {
        let limit = max(1, maxInFlight)
        let count = max(1, min(limit, threads ?? min(ProcessInfo.processInfo.activeProcessorCount, limit / 16)))
        var cores: [CurlClientCore] = []
        for index in 0..<count {
            // The limit split as evenly as it goes: 33 over 2 threads is 17 + 16.
            let share = limit / count + (index < limit % count ? 1 : 0)
            let core = CurlClientCore(multi: try CurlMultiHandle(maxConnections: share), maxInFlight: share)
            let loop = CurlTransferLoop(core: core)
            let thread = Thread { loop.run() }
            // At most 15 characters: Linux drops longer thread names.
            thread.name = "loyali-curl"
            thread.start()
            cores.append(core)
        }
        self.cores = cores
    }

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
        // The least busy thread; ties go to the first, so requests sent one at a time share one
        // keep-alive connection.
        var chosen = 0
        var fewest = Int.max
        for index in cores.indices {
            let count = cores[index].outstanding.load(ordering: .relaxed)
            if count < fewest { (chosen, fewest) = (index, count) }
        }
        let core = cores[chosen]
        core.outstanding.add(1, ordering: .relaxed)
        let completion: @Sendable (HTTPResponse) -> Void = { response in
            core.outstanding.subtract(1, ordering: .relaxed)
            completion(response)
        }
        // The C-side request is built here, on the caller's thread, to keep the loop threads free
        // for network work.
        let transfer: CurlTransfer
        do {
            transfer = try CurlTransfer(request: request, completion: completion)
        } catch {
            completion(HTTPResponse(outcome: .failure(error), durationMs: 0))
            return
        }
        guard core.enqueue(transfer) else {
            completion(HTTPResponse(
                outcome: .failure(HTTPTransportError(.cancelled, "the HTTP client is shut down")), durationMs: 0))
            return
        }
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
