import Synchronization

/// One request's state while libmicrohttpd serves it: the request being read, and the handler's
/// answer once given.
///
/// `@unchecked Sendable`: `request`, `refusal`, `discarded` and `dispatched` are touched only by
/// libmicrohttpd's callbacks for this connection, which run one at a time on the connection's
/// polling thread; the answer, which a handler may give from any thread, lives in a `Mutex`.
final class HTTPRequestContext: @unchecked Sendable {
    /// The connection, resumed through when the answer comes later. Valid until the request ends,
    /// and a suspended request cannot end before it is resumed.
    let connection: OpaquePointer
    var request: HTTPServerRequest
    /// The request was refused before its body was read (or its body went over the cap); the
    /// body is being read and dropped, and this is the answer once it has been.
    var refusal: HTTPServerResponse?
    var discarded = 0
    /// The handler has been called.
    var dispatched = false
    private let answer = Mutex<Answer>(Answer())

    private struct Answer {
        var response: HTTPServerResponse?
        var phase = Phase.handling
        /// Set once an answer was given, so a second one is ignored.
        var given = false
    }

    private enum Phase {
        /// The handler is running on the polling thread.
        case handling
        /// The handler returned without answering; the connection is being suspended.
        case suspending
        /// The connection is suspended until the answer comes.
        case suspended
        /// The answer came; the connection was (or is being) resumed.
        case resumed
    }

    init(connection: OpaquePointer, head: HTTPServerRequest) {
        self.connection = connection
        self.request = head
    }

    /// After the handler returned: the answer if it already came, else `nil` and the phase moves
    /// to suspending.
    func responseOrSuspending() -> HTTPServerResponse? {
        answer.withLock { state in
            if let response = state.response {
                state.response = nil
                return response
            }
            state.phase = .suspending
            return nil
        }
    }

    /// After suspending: `true` if still waiting (the responder will resume), `false` if the
    /// answer came meanwhile and the caller must resume.
    func confirmSuspended() -> Bool {
        answer.withLock { state in
            if state.response != nil {
                state.phase = .resumed
                return false
            }
            state.phase = .suspended
            return true
        }
    }

    /// Records the answer; returns whether the caller must resume the connection.
    func give(_ response: HTTPServerResponse) -> Bool {
        answer.withLock { state in
            guard !state.given else { return false }
            state.given = true
            state.response = response
            guard state.phase == .suspended else { return false }
            state.phase = .resumed
            return true
        }
    }

    /// The answer, taken once (after a resume).
    func takeResponse() -> HTTPServerResponse? {
        answer.withLock { state in
            defer { state.response = nil }
            return state.response
        }
    }
}
