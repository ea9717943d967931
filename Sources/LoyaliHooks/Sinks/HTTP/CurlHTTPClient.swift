import Foundation

/// The HTTP transport: sends ``HTTPRequest``s over libcurl's multi interface on one dedicated
/// thread, reusing keep-alive connections.
///
/// - Blocking network work never runs on Swift's cooperative pool or on GCD: one `Thread` per
///   client drives every transfer with `curl_multi_poll`.
/// - At most `maxInFlight` requests run at once; more wait in order.
/// - Redirects are never followed, TLS is always verified, only `http` and `https` are allowed,
///   environment proxies are ignored, and every request has an overall and a connect deadline.
/// - A response body is kept up to the request's cap, and a longer one is cut off unread.
///
/// Completion handlers run on the client's thread, one after another: keep them short, and hand
/// longer work elsewhere. A handler may call ``send(_:completion:)`` again.
public final class CurlHTTPClient: Sendable {
    private let core: CurlClientCore

    /// A client running at most `maxInFlight` requests at once, and keeping as many connections
    /// open for reuse.
    public init(maxInFlight: Int = 32) throws(HTTPTransportError) {
        let limit = max(1, maxInFlight)
        core = CurlClientCore(multi: try CurlMultiHandle(maxConnections: limit), maxInFlight: limit)
        let loop = CurlTransferLoop(core: core)
        let thread = Thread { loop.run() }
        // At most 15 characters: Linux drops longer thread names.
        thread.name = "loyali-curl"
        thread.start()
    }

    deinit {
        // Nothing can call `send` any more: cancel whatever is left, without waiting.
        _ = core.requestStop(by: .now, waiter: nil)
    }

    /// Sends `request` and calls `completion` once with the outcome, on the client's thread.
    ///
    /// Two outcomes are known at once and reported on the caller's thread, before this returns:
    /// `invalid_request` for a header that cannot be sent safely, and `cancelled` once
    /// ``shutdown(grace:)`` has begun.
    public func send(_ request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        // The C-side request is built here, on the caller's thread, to keep the loop thread free
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
    /// the rest (completing them with `cancelled`) and ends the client's thread. Returns when every
    /// accepted request has been completed.
    public func shutdown(grace: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if core.requestStop(by: .now + grace, waiter: continuation) {
                continuation.resume()
            }
        }
    }
}
