import CMicroHTTPD
import Foundation
import Synchronization

/// An HTTP/1.1 listener on libmicrohttpd: the ingest source, the admin API and `listen` all run on
/// one of these. It owns its `MHD_Daemon` and stops it in `deinit`.
///
/// - **Threads:** libmicrohttpd's own epoll threads (``Limits/threads``) parse requests and call
///   the handler; nothing runs on Swift's cooperative pool. A handler that answers later leaves its
///   connection suspended, holding no thread, until it responds from any thread.
/// - **Limits:** bodies over ``Limits/maxBodyBytes`` get 413 (at once when `Content-Length`
///   says so); a request head over ``Limits/maxHeaderBytes`` gets 431; at most
///   ``Limits/maxConnections`` connections; a connection silent for
///   ``Limits/idleTimeoutSeconds`` (idle keep-alive included) is closed; a request that trickles in
///   (slowloris) is cut off after ``Limits/requestTimeout``.
/// - **Keep-alive:** HTTP/1.1 persistent connections unless a response asks to close.
public final class HTTPServer: Sendable {
    /// Connection and request limits.
    public struct Limits: Sendable {
        /// The largest request body accepted; larger ones get 413.
        public var maxBodyBytes = 1 << 20
        /// The largest request head (request line and header fields) accepted; a larger one gets
        /// 431 (or 414 for a long request line), as JSON. libmicrohttpd's memory per connection
        /// is sized from it and cleared for every request, so it is kept small.
        public var maxHeaderBytes = 16 << 10
        /// Connections open at once; more are refused at accept. Capped by the process's
        /// descriptor limit (less a reserve for files and the store).
        public var maxConnections = 4_096
        /// Connections from one client address at once; 0 for no limit.
        public var maxConnectionsPerClient = 0
        /// Seconds without a byte before a connection is closed, idle keep-alive included.
        public var idleTimeoutSeconds = 10
        /// How long a whole request (head and body) may take to arrive, counted from its first
        /// byte; waiting for that byte is the idle timeout's business. A client trickling bytes to
        /// hold the connection (slowloris) is disconnected.
        public var requestTimeout = Duration.seconds(10)
        /// Polling threads.
        public var threads = 2

        /// The defaults.
        public init() {}
    }

    /// Where it listens, with the port actually bound (useful with port 0).
    public let address: ListenAddress
    let core: HTTPServerCore
    private let daemon: DaemonPointer
    private let gate: ConnectionGate
    /// libmicrohttpd's logger closure; freed once the daemon is stopped.
    private let statusHook: HookPointer
    private let lifecycle = Mutex<Lifecycle>(Lifecycle())

    private struct Lifecycle {
        var quiesced = false
        var stopped = false
    }

    /// The logger closure's memory: written once before the daemon starts, then only read by
    /// libmicrohttpd's threads, and freed in `deinit` after the daemon has stopped.
    private struct HookPointer: @unchecked Sendable {
        let raw: UnsafeMutablePointer<loyali_status_hook>
    }

    /// A daemon pointer that can be stored in a `Sendable` class. libmicrohttpd's quiesce and stop
    /// functions are safe to call from any thread; ``HTTPServer`` calls each once, under its lock.
    private struct DaemonPointer: @unchecked Sendable {
        let raw: OpaquePointer
    }

    /// Binds `address` and starts serving with `handler`.
    public init(address: ListenAddress, limits: Limits = Limits(), handler: any HTTPServerHandler) throws(HTTPServerError) {
        let (fd, port) = try address.bind()
        let core = HTTPServerCore(handler: handler, limits: limits)
        // Connections come from the gate, once their first head has passed.
        // The error log is how libmicrohttpd's own error answers are counted (see `statusHook`).
        var flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_NO_LISTEN_SOCKET.rawValue
            | MHD_USE_ITC.rawValue | MHD_USE_ERROR_LOG.rawValue
        #if os(Linux)
        flags |= MHD_USE_EPOLL.rawValue
        #else
        flags |= MHD_USE_POLL.rawValue
        #endif
        if address.host.contains(":") { flags |= MHD_USE_IPv6.rawValue }
        let context = Unmanaged.passUnretained(core).toOpaque()
        let statusHook = UnsafeMutablePointer<loyali_status_hook>.allocate(capacity: 1)
        statusHook.initialize(
            to: loyali_status_hook(
                callback: { cls, status in
                    Unmanaged<HTTPServerCore>.fromOpaque(cls!).takeUnretainedValue().handler.answered(status: Int(status))
                }, context: context))
        let started = loyali_mhd_start(
            flags,
            { cls, connection, url, method, _, uploadData, uploadSize, slot in
                Unmanaged<HTTPServerCore>.fromOpaque(cls!).takeUnretainedValue().access(
                    connection!, url: url, method: method, uploadData: uploadData, uploadSize: uploadSize!, slot: slot!)
            }, context,
            { cls, connection, slot, _ in
                Unmanaged<HTTPServerCore>.fromOpaque(cls!).takeUnretainedValue().completed(connection!, slot: slot)
            }, context,
            { cls, connection, socketContext, event in
                Unmanaged<HTTPServerCore>.fromOpaque(cls!).takeUnretainedValue().connectionEvent(
                    connection!, socketContext: socketContext, event: event)
            }, context,
            { cls, _, connection in
                Unmanaged<HTTPServerCore>.fromOpaque(cls!).takeUnretainedValue().requestLineReceived(connection!)
                return nil
            }, context,
            UInt32(clamping: max(1, limits.threads)), UInt32(clamping: Self.connectionLimit(limits.maxConnections)), UInt32(clamping: limits.maxConnectionsPerClient),
            UInt32(clamping: limits.idleTimeoutSeconds), Self.memoryLimit(limits), statusHook)
        guard let started else {
            statusHook.deallocate()
            close(fd)
            throw HTTPServerError(address: address.description, reason: "libmicrohttpd could not start a daemon")
        }
        let daemon = DaemonPointer(raw: started)
        let gate: ConnectionGate
        do throws(HTTPServerError) {
            gate = try ConnectionGate(
                listenFD: fd, limits: limits,
                hand: { [core] connection, peer, length, firstByteAt in
                    core.firstBytes.withLock { $0[connection] = firstByteAt }
                    // On failure (connection limits) libmicrohttpd closes the socket itself.
                    if MHD_add_connection(daemon.raw, connection, peer, length) != .YES {
                        _ = core.firstBytes.withLock { $0.removeValue(forKey: connection) }
                    }
                },
                answered: { [core] status in core.handler.answered(status: status) })
        } catch {
            close(fd)
            MHD_stop_daemon(started)
            statusHook.deallocate()
            throw HTTPServerError(address: address.description, reason: error.reason)
        }
        self.core = core
        self.daemon = daemon
        self.statusHook = HookPointer(raw: statusHook)
        self.gate = gate
        self.address = ListenAddress(host: address.host, port: port)
        core.reaper.start(deadline: limits.requestTimeout)
    }

    deinit {
        stop(within: .seconds(5))
        statusHook.raw.deallocate()
    }

    /// Stops accepting connections; open ones are still served. Idempotent.
    public func stopAccepting() {
        lifecycle.withLock { state in
            guard !state.quiesced, !state.stopped else { return }
            state.quiesced = true
            gate.stopAccepting()
        }
    }

    /// Stops the server: no new connections, up to `within` for handlers still answering, then
    /// requests still unanswered get a 503 (a short moment is given for it to be sent) and every
    /// connection is closed. Idempotent; blocks the calling thread.
    public func stop(within grace: Duration = .seconds(5)) {
        stopAccepting()
        let deadline = ContinuousClock.now + grace
        while core.suspendedCount > 0, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
        // libmicrohttpd aborts the process when stopped with a connection still suspended, so
        // the server answers for handlers that are late (listen --delay, a stalled commit).
        let late = HTTPServerResponse.error(503, "shutting_down", "the server stopped before this request was answered")
        if core.answerUnanswered(with: late) > 0 {
            let flushed = ContinuousClock.now + Self.lateAnswerFlush
            while core.dispatchedCount > 0, ContinuousClock.now < flushed {
                Thread.sleep(forTimeInterval: 0.005)
            }
        }
        gate.stop()
        lifecycle.withLock { state in
            guard !state.stopped else { return }
            state.stopped = true
            core.markStopped()
            MHD_stop_daemon(daemon.raw)
        }
        core.reaper.stop()
    }

    /// How long a stop waits for the 503s given for late handlers to be sent.
    static let lateAnswerFlush = Duration.milliseconds(500)

    /// libmicrohttpd's memory per connection: room for a head at the gate's limit
    /// (``Limits/maxHeaderBytes``) with its field records, so a head the gate passed is never
    /// refused by libmicrohttpd's own HTML answer. It clears this memory for every request.
    static func memoryLimit(_ limits: Limits) -> Int {
        2 * limits.maxHeaderBytes + RequestHeadCheck.maxFields * 64 + 4_096
    }

    /// `wanted`, or fewer if the descriptor limit would not allow it (keeping 64 spare).
    static func connectionLimit(_ wanted: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int.max) else { return wanted }
        return max(16, min(wanted, Int(limit.rlim_cur) - 64))
    }

    /// Requests handed to the handler and not yet answered.
    public var pendingResponses: Int { core.suspendedCount }
}
