import Foundation
import Synchronization

/// Cuts off connections whose request takes too long to arrive (slowloris).
///
/// libmicrohttpd's own timeout only closes a connection after a stretch of *silence*, so a
/// client that sends one byte every few seconds would hold a connection for ever. Each connection
/// carries a ``Connection`` record (in libmicrohttpd's per-socket context) saying when it opened
/// or last completed a request; one that has not completed the next request within the deadline,
/// and is not waiting on our own handler, gets `shutdown()`, which makes libmicrohttpd see the
/// end of the stream and close it normally.
///
/// Per request only two atomic stores are made; the lock is taken when a connection opens or
/// closes and by the sweep. A descriptor is only shut down while its connection is registered:
/// libmicrohttpd reports the close (``closed(_:)``, under the same lock) before it closes the
/// descriptor.
final class ConnectionReaper: Sendable {
    /// One open connection.
    final class Connection: Sendable {
        let fd: Int32
        /// When the connection opened or last completed a request (monotonic ns).
        let since: Atomic<UInt64>
        /// A complete request is with the handler; the time is ours, not the client's.
        let handling = Atomic<Bool>(false)

        init(fd: Int32, now: UInt64) {
            self.fd = fd
            self.since = Atomic(now)
        }

        func requestHandled() { handling.store(true, ordering: .relaxed) }

        func requestEnded() {
            since.store(ConnectionReaper.now(), ordering: .relaxed)
            handling.store(false, ordering: .relaxed)
        }
    }

    private let open = Mutex<[ObjectIdentifier: Connection]>([:])
    private let sweeper = Mutex<PeriodicThread?>(nil)
    private let deadlineNs = Atomic<UInt64>(UInt64.max)

    /// Starts the sweeping thread: connections get `deadline` to complete each request.
    func start(deadline: Duration) {
        deadlineNs.store(UInt64(deadline.totalMilliseconds) * 1_000_000, ordering: .relaxed)
        // A quarter of the deadline, between 50 ms and 1 s.
        let interval = Duration.milliseconds(max(50, min(1_000, deadline.totalMilliseconds / 4)))
        let thread = PeriodicThread(name: "loyali-hooks.http-reaper", interval: interval) { [self] _ in sweep() }
        sweeper.withLock { $0 = thread }
    }

    /// Stops the sweeping thread and waits for it.
    func stop() {
        sweeper.withLock { $0.take() }?.stop(waitingUpTo: .seconds(2))
    }

    /// Registers a new connection.
    func opened(fd: Int32) -> Connection {
        let connection = Connection(fd: fd, now: Self.now())
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
            for (key, connection) in open
            where connection.fd >= 0 && !connection.handling.load(ordering: .relaxed)
                && now &- connection.since.load(ordering: .relaxed) > deadline
            {
                // Shut down while the lock keeps the descriptor from being closed and reused.
                shutdown(connection.fd, Int32(SHUT_RDWR))
                open[key] = nil
            }
        }
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
