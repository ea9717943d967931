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
        /// Memory per connection for the request line, headers and read buffer; a head that does
        /// not fit gets 431 (or 414 for a long URL). libmicrohttpd clears it for every request, so
        /// it is kept small.
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
    private let lifecycle = Mutex<Lifecycle>(Lifecycle())

    private struct Lifecycle {
        var quiesced = false
        var stopped = false
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
        var flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue
        #if os(Linux)
        flags |= MHD_USE_EPOLL.rawValue
        #else
        flags |= MHD_USE_POLL.rawValue
        #endif
        if address.host.contains(":") { flags |= MHD_USE_IPv6.rawValue }
        let context = Unmanaged.passUnretained(core).toOpaque()
        let started = loyali_mhd_start(
            flags, fd,
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
            UInt32(max(1, limits.threads)), UInt32(Self.connectionLimit(limits.maxConnections)), UInt32(limits.maxConnectionsPerClient),
            UInt32(limits.idleTimeoutSeconds), limits.maxHeaderBytes)
        guard let started else {
            close(fd)
            throw HTTPServerError(address: address.description, reason: "libmicrohttpd could not start a daemon")
        }
        self.core = core
        self.daemon = DaemonPointer(raw: started)
        self.address = ListenAddress(host: address.host, port: port)
        core.reaper.start(deadline: limits.requestTimeout)
    }

    deinit { stop(within: .seconds(5)) }

    /// Stops accepting connections; open ones are still served. Idempotent.
    public func stopAccepting() {
        lifecycle.withLock { state in
            guard !state.quiesced, !state.stopped else { return }
            state.quiesced = true
            let fd = MHD_quiesce_daemon(daemon.raw)
            if fd >= 0 { close(fd) }
        }
    }

    /// Stops the server: no new connections, up to `within` for handlers still answering, then
    /// every connection is closed. Idempotent; blocks the calling thread.
    public func stop(within grace: Duration = .seconds(5)) {
        stopAccepting()
        let deadline = ContinuousClock.now + grace
        while core.suspendedCount > 0, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
        lifecycle.withLock { state in
            guard !state.stopped else { return }
            state.stopped = true
            core.markStopped()
            MHD_stop_daemon(daemon.raw)
        }
        core.reaper.stop()
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
