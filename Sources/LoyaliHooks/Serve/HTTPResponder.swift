/// Answers one request, exactly once, now or later and from any thread. A later answer resumes
/// the suspended connection; a second answer is ignored.
public final class HTTPResponder: Sendable {
    private enum Target: Sendable {
        case connection(HTTPRequestContext, HTTPServerCore)
        case callback(@Sendable (HTTPServerResponse) -> Void)
    }

    private let target: Target

    init(context: HTTPRequestContext, core: HTTPServerCore) {
        target = .connection(context, core)
    }

    /// A responder that hands the answer to `deliver`, for driving a handler without a socket.
    public init(_ deliver: @escaping @Sendable (HTTPServerResponse) -> Void) {
        target = .callback(deliver)
    }

    /// Sends `response`.
    public func respond(_ response: HTTPServerResponse) {
        switch target {
        case .connection(let context, let core):
            if context.give(response) { core.resume(context.connection) }
        case .callback(let deliver):
            deliver(response)
        }
    }
}
