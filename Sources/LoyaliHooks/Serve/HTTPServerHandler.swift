/// What a listener does with requests. Methods run on the server's own polling threads (never on
/// Swift's cooperative pool), so they may do short blocking work such as a store query; long waits
/// belong elsewhere, answering later through the ``HTTPResponder``.
public protocol HTTPServerHandler: Sendable {
    /// Called when the request line and headers have arrived, before the body is read. Returning a
    /// response answers at once and the body is never read (use it for 401, 404, 405, 413, 415).
    func respondBeforeBody(to head: HTTPServerRequest) -> HTTPServerResponse?

    /// Called with the whole request. Answer exactly once through `responder`, now or later and
    /// from any thread; the connection waits, suspended, without holding a thread.
    func handle(_ request: HTTPServerRequest, responder: HTTPResponder)

    /// Called for every answer the server sends, whoever made it: the handler, or the server
    /// itself (413 over the body cap, 400 for ambiguous framing, 431 for an oversize head, …).
    func answered(status: Int)
}

extension HTTPServerHandler {
    public func respondBeforeBody(to head: HTTPServerRequest) -> HTTPServerResponse? { nil }

    public func answered(status: Int) {}
}
