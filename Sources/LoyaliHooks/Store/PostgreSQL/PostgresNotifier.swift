import Foundation
import Synchronization

/// Listens for ``PostgresDeliveryStore/notifyChannel`` on a connection of its own and calls
/// `onWake` when another node (or this one) announces work, so an idle node starts within
/// milliseconds instead of at its next poll.
///
/// It also calls `onWake` every `pollInterval` without a notification: the slow poll that catches
/// anything a notification could not announce (work that became due with time, a notification
/// lost while the connection was down). After a lost connection it reconnects with a backoff and
/// wakes once, since it may have missed announcements meanwhile.
///
/// Runs on a dedicated thread (libpq blocks); `@unchecked Sendable` because its mutable state is
/// the `stopping` atomic and the `ended` wakeup, and everything else is immutable.
public final class PostgresNotifier: @unchecked Sendable {
    private let target: PostgresTarget
    private let channel: String
    /// The connection's `application_name`: other nodes count this node by it.
    private let applicationName: String
    private let pollInterval: Double
    private let onWake: @Sendable () -> Void
    private let onConnectionChange: @Sendable (PostgresError?) -> Void
    private let stopping = Atomic<Bool>(false)
    private let ended = Wakeup()
    /// How long one wait on the socket lasts: the longest a stop waits.
    private static let waitSlice: Int32 = 200

    /// Starts listening for `store`'s announcements. `onConnectionChange` is told of a lost
    /// connection (with its error) and of each reconnection (`nil`).
    public convenience init(
        store: PostgresDeliveryStore, pollInterval: Double = 5,
        onConnectionChange: @escaping @Sendable (PostgresError?) -> Void = { _ in },
        onWake: @escaping @Sendable () -> Void
    ) {
        self.init(
            target: store.target, channel: PostgresDeliveryStore.notifyChannel, applicationName: store.listenerName,
            pollInterval: pollInterval, onConnectionChange: onConnectionChange, onWake: onWake)
    }

    init(
        target: PostgresTarget, channel: String, applicationName: String = "loyali-hooks listener", pollInterval: Double,
        onConnectionChange: @escaping @Sendable (PostgresError?) -> Void, onWake: @escaping @Sendable () -> Void
    ) {
        self.target = target
        self.channel = channel
        self.applicationName = applicationName
        self.pollInterval = pollInterval
        self.onWake = onWake
        self.onConnectionChange = onConnectionChange
        let thread = Thread { [self] in
            run()
            ended.signal()
        }
        thread.name = "loyali-listen"
        thread.start()
    }

    /// Stops listening; returns once the thread has ended.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        ended.wait(until: nil)
    }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) }

    private func run() {
        var backoff = PostgresSession.firstBackoff
        var wasLost = false
        while !isStopping {
            let connection: PostgresConnection
            do {
                connection = try PostgresConnection(target: target, applicationName: applicationName)
                // The channel name is a fixed identifier of ours, never user text.
                try connection.execute("LISTEN \(channel)")
            } catch {
                if !wasLost { onConnectionChange(error) }
                wasLost = true
                sleep(seconds: backoff)
                backoff = min(backoff * 2, PostgresSession.maximumBackoff)
                continue
            }
            backoff = PostgresSession.firstBackoff
            if wasLost {
                onConnectionChange(nil)
                wasLost = false
            }
            // Announcements may have been missed before LISTEN took effect.
            onWake()
            var lastWake = Date()
            while !isStopping {
                let readable = connection.waitForInput(milliseconds: Self.waitSlice)
                do {
                    if readable, !(try connection.takeNotifications()).isEmpty {
                        onWake()
                        lastWake = Date()
                    }
                    if !connection.isConnected { throw PostgresError(sqlState: nil, message: "connection lost", isConnectionLoss: true) }
                } catch {
                    onConnectionChange(error as? PostgresError)
                    wasLost = true
                    break
                }
                if Date().timeIntervalSince(lastWake) >= pollInterval {
                    onWake()
                    lastWake = Date()
                }
            }
        }
    }

    /// Sleeps up to `seconds`, in slices, returning early on stop.
    private func sleep(seconds: Double) {
        let until = Date(timeIntervalSinceNow: seconds)
        while !isStopping, Date() < until {
            Thread.sleep(forTimeInterval: min(Double(Self.waitSlice) / 1000, until.timeIntervalSinceNow))
        }
    }
}
