import Foundation
import Synchronization

/// Cuts off connections whose request takes too long to arrive (slowloris).
///
/// libmicrohttpd's own timeout only closes a connection after a stretch of *silence*, so a
/// client that sends one byte every few seconds would hold a connection for ever. The reaper
/// remembers when each connection opened or last completed a request; one that has not completed
/// the next request within the deadline, and is not waiting on our own handler, gets `shutdown()`,
/// which makes libmicrohttpd see the end of the stream and close it normally.
///
/// The descriptor is only shut down while the connection is known to be open: libmicrohttpd
/// reports the close (``closed(_:)``, under the same lock) before it closes the descriptor.
final class ConnectionReaper: Sendable {
    private struct Entry {
        /// When the connection opened or last completed a request (monotonic ns).
        var since: UInt64
        /// A complete request is with the handler; the time is ours, not the client's.
        var handling = false
    }

    private let entries = Mutex<[Int32: Entry]>([:])
    private let wakeup = Wakeup()
    private let running = Atomic<Bool>(false)
    private let finished = Wakeup()
    private let deadlineNs = Atomic<UInt64>(UInt64.max)

    /// Starts the sweeping thread: connections get `deadline` to complete each request.
    func start(deadline: Duration) {
        deadlineNs.store(UInt64(deadline.totalMilliseconds) * 1_000_000, ordering: .relaxed)
        running.store(true, ordering: .relaxed)
        let interval = max(0.05, min(1.0, Double(deadline.totalMilliseconds) / 4_000))
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                wakeup.wait(until: Date(timeIntervalSinceNow: interval))
                sweep()
            }
            finished.signal()
        }
        thread.name = "loyali-hooks.http-reaper"
        thread.start()
    }

    /// Stops the sweeping thread and waits for it.
    func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        wakeup.signal()
        finished.wait(until: Date(timeIntervalSinceNow: 2))
    }

    func opened(_ fd: Int32) {
        guard fd >= 0 else { return }
        let now = Self.now()
        entries.withLock { $0[fd] = Entry(since: now) }
    }

    func closed(_ fd: Int32) {
        _ = entries.withLock { $0.removeValue(forKey: fd) }
    }

    func handling(_ fd: Int32) {
        entries.withLock { $0[fd]?.handling = true }
    }

    func requestEnded(_ fd: Int32) {
        let now = Self.now()
        entries.withLock { entries in
            guard entries[fd] != nil else { return }
            entries[fd] = Entry(since: now)
        }
    }

    /// Connections currently tracked.
    var count: Int { entries.withLock { $0.count } }

    private func sweep() {
        let now = Self.now()
        let deadline = deadlineNs.load(ordering: .relaxed)
        entries.withLock { entries in
            for (fd, entry) in entries where !entry.handling && now &- entry.since > deadline {
                // Shut down while the lock keeps the descriptor from being closed and reused.
                shutdown(fd, Int32(SHUT_RDWR))
                entries[fd] = nil
            }
        }
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
