import CMicroHTTPD
import Foundation
import Synchronization

/// Accepts connections for an ``HTTPServer`` and holds each until its first request head has
/// arrived whole and passed ``RequestHeadCheck``; only then does libmicrohttpd get it
/// (`MHD_add_connection`). libmicrohttpd answers heads it cannot take with HTML of its own;
/// here they get the JSON error every listener documents, counted like any other answer.
///
/// The head is only peeked at (`MSG_PEEK`), so libmicrohttpd reads it as if nothing had
/// happened. Later requests on a kept-alive connection are read by libmicrohttpd directly.
///
/// One thread (epoll, edge-triggered) does the work. A connection silent for the idle timeout,
/// or whose head is not whole within the request timeout of its first byte, is closed. A
/// refused connection is answered, half-closed, and drained briefly so the client reads the
/// answer rather than a reset.
final class ConnectionGate: Sendable {
    /// A connection not yet handed over.
    private struct Pending {
        var address = sockaddr_storage()
        var addressLength = socklen_t(0)
        var acceptedAt: UInt64
        var firstByteAt: UInt64?
        /// Bytes seen by the last peek: only what came after them is searched for the head's end.
        var peeked = 0
        /// Answered and half-closed: drained until this time, then closed.
        var closingUntil: UInt64?
    }

    /// State touched only by the gate's thread (and by ``stop()`` after that thread ended).
    private final class State: @unchecked Sendable {
        // @unchecked: only the gate's single thread uses it while it runs, and `stop` only
        // after `PeriodicThread.stop` has waited for that thread's last tick.
        var listenFD: Int32
        var pending: [Int32: Pending] = [:]
        var peek: [UInt8]
        var lastSweep: UInt64 = 0

        init(listenFD: Int32, peekSize: Int) {
            self.listenFD = listenFD
            self.peek = [UInt8](repeating: 0, count: peekSize)
        }
    }

    private static let listenID = UInt64.max
    private static let lingerNs: UInt64 = 1_000_000_000

    private let epollFD: Int32
    private let state: State
    private let limits: HTTPServer.Limits
    private let hand: @Sendable (Int32, UnsafePointer<sockaddr>, socklen_t, UInt64) -> Void
    private let answered: @Sendable (Int) -> Void
    private let stopAcceptingRequested = Atomic<Bool>(false)
    private let thread = Mutex<PeriodicThread?>(nil)

    /// Starts accepting on `listenFD` (which it now owns). `hand` gets each connection that
    /// passed, with the time its first byte was seen; `answered` each status the gate sends.
    init(
        listenFD: Int32, limits: HTTPServer.Limits,
        hand: @escaping @Sendable (_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t, _ firstByteAt: UInt64) -> Void,
        answered: @escaping @Sendable (Int) -> Void
    ) throws(HTTPServerError) {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw HTTPServerError(address: "", reason: "epoll: \(SystemError.describe(errno))") }
        state = State(listenFD: listenFD, peekSize: limits.maxHeaderBytes + 2)
        self.limits = limits
        self.hand = hand
        self.answered = answered
        _ = loyali_epoll_set(epollFD, listenFD, UInt32(EPOLLIN.rawValue), Self.listenID, 0)
        let worker = PeriodicThread(name: "loyali-hooks.http-gate", interval: .milliseconds(1)) { [self] stopping in
            if stopping { closeAll() } else { turn() }
        }
        thread.withLock { $0 = worker }
    }

    /// Stops accepting new connections; those already accepted are still judged and handed on.
    func stopAccepting() { stopAcceptingRequested.store(true, ordering: .relaxed) }

    /// Closes every connection not yet handed over, and the listening socket; waits for the
    /// thread. After this, `hand` is never called again.
    func stop() {
        thread.withLock { $0.take() }?.stop(waitingUpTo: .seconds(2))
    }

    deinit {
        stop()
        close(epollFD)
    }

    // MARK: The thread

    private func turn() {
        if stopAcceptingRequested.load(ordering: .relaxed), state.listenFD >= 0 {
            _ = loyali_epoll_remove(epollFD, state.listenFD)
            close(state.listenFD)
            state.listenFD = -1
        }
        var ids = [UInt64](repeating: 0, count: 64)
        var events = [UInt32](repeating: 0, count: 64)
        let count = loyali_epoll_wait(epollFD, &ids, &events, 64, 50)
        for index in 0..<max(0, Int(count)) {
            if ids[index] == Self.listenID { acceptAll() } else { service(Int32(truncatingIfNeeded: ids[index])) }
        }
        let now = ConnectionReaper.now()
        if now &- state.lastSweep > 50_000_000 {
            state.lastSweep = now
            expire(now: now)
        }
    }

    private func acceptAll() {
        while state.listenFD >= 0 {
            var pending = Pending(acceptedAt: ConnectionReaper.now())
            pending.addressLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &pending.address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(state.listenFD, $0, &pending.addressLength)
                }
            }
            guard fd >= 0 else { return }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            guard state.pending.count < limits.maxConnections,
                loyali_epoll_set(epollFD, fd, UInt32(EPOLLIN.rawValue) | UInt32(EPOLLRDHUP.rawValue) | UInt32(EPOLLET.rawValue), UInt64(fd), 0) == 0
            else {
                close(fd)
                continue
            }
            state.pending[fd] = pending
            // Bytes that came with the connection do not raise a new edge: look now.
            service(fd)
        }
    }

    private func service(_ fd: Int32) {
        guard var pending = state.pending[fd] else { return }
        if pending.closingUntil != nil {
            if !drain(fd) { forget(fd) }
            return
        }
        let capacity = state.peek.count
        let read = state.peek.withUnsafeMutableBytes { recv(fd, $0.baseAddress, capacity, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) }
        if read < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
        guard read > 0 else {
            forget(fd)
            return
        }
        let now = ConnectionReaper.now()
        if pending.firstByteAt == nil { pending.firstByteAt = now }
        // The head can only be judged once it has ended or outgrown the limit: until then the
        // check would say "incomplete" again. Searching just the new bytes for the blank line
        // keeps a client that trickles its head from costing a rescan of all of it per segment.
        let searchFrom = pending.peeked
        pending.peeked = read
        state.pending[fd] = pending
        let mayBeJudged = read > limits.maxHeaderBytes
            || state.peek.withUnsafeBufferPointer { Self.hasBlankLine(UnsafeBufferPointer(rebasing: $0[..<read]), from: searchFrom) }
        guard mayBeJudged else { return }
        let verdict = state.peek.withUnsafeBufferPointer {
            RequestHeadCheck.inspect(UnsafeBufferPointer(rebasing: $0[..<read]), limit: limits.maxHeaderBytes, maxBodyBytes: limits.maxBodyBytes)
        }
        switch verdict {
        case .incomplete:
            return
        case .accept:
            _ = loyali_epoll_remove(epollFD, fd)
            state.pending[fd] = nil
            withUnsafePointer(to: &pending.address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { hand(fd, $0, pending.addressLength, pending.firstByteAt ?? now) }
            }
        case .refuse(let status, let code, let message):
            var response = HTTPServerResponse.error(status, code, message)
            response.closesConnection = true
            let bytes = response.wireBytes
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
            answered(status)
            shutdown(fd, Int32(SHUT_WR))
            pending.closingUntil = now &+ Self.lingerNs
            state.pending[fd] = pending
            if !drain(fd) { forget(fd) }
        }
    }

    /// Whether a line feed at `from` or later ends an empty line (`\n`, or `\r\n`, right after
    /// the previous line feed or at the start): where ``RequestHeadCheck`` finds a head's end.
    static func hasBlankLine(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Bool {
        var index = max(0, from)
        while index < bytes.count {
            if bytes[index] == 0x0A {
                if index == 0 || bytes[index - 1] == 0x0A { return true }
                if bytes[index - 1] == 0x0D, index == 1 || bytes[index - 2] == 0x0A { return true }
            }
            index += 1
        }
        return false
    }

    /// Reads and drops what the client sent; `false` once it has closed (or failed).
    private func drain(_ fd: Int32) -> Bool {
        let capacity = state.peek.count
        while true {
            let read = state.peek.withUnsafeMutableBytes { recv(fd, $0.baseAddress, capacity, Int32(MSG_DONTWAIT)) }
            if read > 0 { continue }
            return read < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        }
    }

    private func expire(now: UInt64) {
        let idleNs = Duration.seconds(max(1, limits.idleTimeoutSeconds)).clampedNanoseconds
        let requestNs = limits.requestTimeout.clampedNanoseconds
        for (fd, pending) in state.pending {
            let overdue =
                if let until = pending.closingUntil { now > until } else if let first = pending.firstByteAt { now &- first > requestNs } else {
                    now &- pending.acceptedAt > idleNs
                }
            if overdue { forget(fd) }
        }
    }

    private func forget(_ fd: Int32) {
        _ = loyali_epoll_remove(epollFD, fd)
        close(fd)
        state.pending[fd] = nil
    }

    private func closeAll() {
        for fd in Array(state.pending.keys) { forget(fd) }
        if state.listenFD >= 0 {
            _ = loyali_epoll_remove(epollFD, state.listenFD)
            close(state.listenFD)
            state.listenFD = -1
        }
    }
}

extension HTTPServerResponse {
    /// The response as HTTP/1.1 bytes, for answers written straight to a socket.
    var wireBytes: [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reasonPhrase(status))\r\n"
        for header in headers { head += "\(header.name): \(header.value)\r\n" }
        head += "Content-Length: \(body.count)\r\n"
        if closesConnection { head += "Connection: close\r\n" }
        return Array((head + "\r\n").utf8) + body
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 431: "Request Header Fields Too Large"
        case 505: "HTTP Version Not Supported"
        default: "Error"
        }
    }
}
