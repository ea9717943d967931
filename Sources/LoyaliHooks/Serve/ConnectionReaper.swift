import CMicroHTTPD
import Foundation
import Synchronization

/// Cuts off connections whose request takes too long to arrive (slowloris).
///
/// libmicrohttpd's own timeout only closes a connection after a stretch of *silence*, so a
/// client that sends one byte every few seconds would hold a connection for ever. Each connection
/// carries a ``Connection`` record (in libmicrohttpd's per-socket context) saying when it opened
/// or last completed a request. The sweep asks the kernel when the socket last received data:
/// the first data after that moment starts the next request, which must then reach the handler
/// within the deadline, counted from that first byte. Waiting for the first byte is left to the
/// idle timeout. A connection over its deadline, and not waiting on our own handler, gets
/// `shutdown()`, which makes libmicrohttpd see the end of the stream and close it normally.
///
/// Per request only two atomic stores and one `getsockopt` are made; the lock is taken when a
/// connection opens or closes and by the sweep. A descriptor is only shut down while its
/// connection is registered: libmicrohttpd reports the close (``closed(_:)``, under the same
/// lock) before it closes the descriptor.
final class ConnectionReaper: Sendable {
    /// One open connection.
    final class Connection: Sendable {
        let fd: Int32
        /// When the connection opened or last completed a request (monotonic ns).
        let idleSince: Atomic<UInt64>
        /// A complete request is with the handler; the time is ours, not the client's.
        let handling = Atomic<Bool>(false)
        /// When the sweep saw the current request's first byte arrive (monotonic ns; 0: not yet),
        /// and the `idleSince` it was seen after. Written by the sweep only, under its lock.
        let started = Atomic<UInt64>(0)
        let startedAfter = Atomic<UInt64>(0)
        /// When libmicrohttpd last parsed a request line on this connection (monotonic ns).
        let requestLineAt = Atomic<UInt64>(0)

        init(fd: Int32, now: UInt64, firstByteAt: UInt64?) {
            self.fd = fd
            self.idleSince = Atomic(now)
            if let firstByteAt {
                started.store(firstByteAt, ordering: .relaxed)
                startedAfter.store(now, ordering: .relaxed)
            }
        }

        func requestHandled() { handling.store(true, ordering: .relaxed) }

        /// A request line was parsed: its request has begun, even if its first bytes came in
        /// with the connection, before the kernel's record can tell them from the handshake.
        func requestLineReceived() { requestLineAt.store(ConnectionReaper.now(), ordering: .relaxed) }

        func requestEnded() {
            // A byte already in for the next request arrived after the kernel's timestamp was
            // taken for this one, so the sweep still sees it as new.
            idleSince.store(ConnectionReaper.now(), ordering: .relaxed)
            handling.store(false, ordering: .relaxed)
        }
    }

    private let open = Mutex<[ObjectIdentifier: Connection]>([:])
    private let sweeper = Mutex<PeriodicThread?>(nil)
    private let deadlineNs = Atomic<UInt64>(UInt64.max)

    /// The kernel reports data arrival in milliseconds, rounded to its clock tick: data seen
    /// within this margin after a request completed belongs to that request.
    static let arrivalMarginNs: UInt64 = 10_000_000

    /// Starts the sweeping thread: a request must arrive within `deadline` of its first byte.
    func start(deadline: Duration) {
        deadlineNs.store(deadline.clampedNanoseconds, ordering: .relaxed)
        // A tenth of the deadline, between 20 and 250 ms: a request is cut off at most two
        // sweeps late.
        let interval = Duration.milliseconds(max(20, min(250, deadline.totalMilliseconds / 10)))
        let thread = PeriodicThread(name: "loyali-hooks.http-reaper", interval: interval) { [self] _ in sweep() }
        sweeper.withLock { $0 = thread }
    }

    /// Stops the sweeping thread and waits for it.
    func stop() {
        sweeper.withLock { $0.take() }?.stop(waitingUpTo: .seconds(2))
    }

    /// Registers a new connection; `firstByteAt` is when its first request began, if known.
    func opened(fd: Int32, firstByteAt: UInt64? = nil) -> Connection {
        let connection = Connection(fd: fd, now: Self.now(), firstByteAt: firstByteAt)
        open.withLock { $0[ObjectIdentifier(connection)] = connection }
        return connection
    }

    /// Forgets a connection that is closing (before its descriptor is closed).
    func closed(_ connection: Connection) {
        _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    /// Connections currently tracked.
    var count: Int { open.withLock { $0.count } }

    private func sweep() {
        let now = Self.now()
        let deadline = deadlineNs.load(ordering: .relaxed)
        open.withLock { open in
            for (key, connection) in open where connection.fd >= 0 && !connection.handling.load(ordering: .relaxed) {
                guard let started = Self.requestStart(of: connection, now: now), now &- started > deadline else { continue }
                // Shut down while the lock keeps the descriptor from being closed and reused.
                shutdown(connection.fd, Int32(SHUT_RDWR))
                open[key] = nil
            }
        }
    }

    /// When the connection's current request began, or `nil` while it is idle.
    private static func requestStart(of connection: Connection, now: UInt64) -> UInt64? {
        let idleSince = connection.idleSince.load(ordering: .relaxed)
        if connection.startedAfter.load(ordering: .relaxed) == idleSince, case let started = connection.started.load(ordering: .relaxed), started != 0 {
            return started
        }
        let sinceData = loyali_tcp_ms_since_data(connection.fd)
        var candidates: [UInt64] = []
        if sinceData >= 0 {
            let arrived = now &- UInt64(sinceData) &* 1_000_000
            if arrived > idleSince &+ arrivalMarginNs { candidates.append(arrived) }
        }
        let line = connection.requestLineAt.load(ordering: .relaxed)
        if line > idleSince { candidates.append(line) }
        guard let arrived = candidates.min() else {
            // Without the kernel's record, count from the end of the previous request.
            return sinceData < 0 ? idleSince : nil
        }
        connection.started.store(arrived, ordering: .relaxed)
        connection.startedAfter.store(idleSince, ordering: .relaxed)
        return arrived
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
