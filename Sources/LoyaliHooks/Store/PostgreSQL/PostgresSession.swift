import Foundation

/// One connection of a ``PostgresDeliveryStore``, behind a lock, made again after it is lost.
///
/// A lost connection (the server restarted, the network dropped) is closed and the next call
/// connects anew. Between failed tries it backs off, doubling from ``firstBackoff`` to
/// ``maximumBackoff``: a call during the backoff fails at once with the last error rather than
/// hammering a database that is starting up. Deadlocks and serialization failures are retried
/// here, a few times, since the whole call is one transaction that can simply run again.
///
/// `@unchecked Sendable`: every mutable field is in `state`, a ``SleepingMutex``; the rest is
/// immutable.
final class PostgresSession: @unchecked Sendable {
    static let firstBackoff: Double = 0.05
    static let maximumBackoff: Double = 2

    private struct State {
        var connection: PostgresConnection?
        var lastFailure: PostgresError?
        var retryAt: Date = .distantPast
        var backoff: Double = PostgresSession.firstBackoff
    }

    let target: PostgresTarget
    private let applicationName: String
    /// Whether every connection this session makes refuses writes.
    let readOnly: Bool
    /// Held across each call, network waits included: a sleeping lock (see ``SleepingMutex``).
    private let state = SleepingMutex(State())

    /// A session on `target`; with `readOnly`, each of its connections refuses writes.
    init(target: PostgresTarget, applicationName: String, readOnly: Bool = false) {
        self.target = target
        self.applicationName = applicationName
        self.readOnly = readOnly
    }

    /// Runs `body` with a live connection, connecting first if needed. Throws the connection's
    /// error, or a ``PostgresError`` with `isConnectionLoss` while the server cannot be reached.
    func run<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try state.withLock { state in
            var tries = 0
            while true {
                let reused = state.connection?.isConnected == true
                let connection = try Self.connection(&state, target: target, applicationName: applicationName, readOnly: readOnly)
                do {
                    return try body(connection)
                } catch let error as PostgresError {
                    if error.isConnectionLoss || !connection.isConnected {
                        state.connection = nil
                        // An idle connection the server dropped (it restarted, or ended idle
                        // sessions) says nothing about the server now: try once more at once on
                        // a new one. Every call is one transaction and safe to run again: rows
                        // and attempts are keyed, and a claim whose commit was lost shows up
                        // again once its lease runs out.
                        if reused, tries == 0 {
                            tries += 1
                            continue
                        }
                        state.lastFailure = error
                        state.retryAt = Date(timeIntervalSinceNow: state.backoff)
                        state.backoff = min(state.backoff * 2, Self.maximumBackoff)
                    }
                    // 40001 serialization failure, 40P01 deadlock: the transaction was rolled
                    // back whole and may run again.
                    tries += 1
                    if (error.sqlState == "40P01" || error.sqlState == "40001"), tries < 5 { continue }
                    throw error
                }
            }
        }
    }

    /// Drops the connection (tests: as if the network went away).
    func disconnect() {
        state.withLock { $0.connection = nil }
    }

    private static func connection(
        _ state: inout State, target: PostgresTarget, applicationName: String, readOnly: Bool
    ) throws(PostgresError) -> PostgresConnection {
        if let connection = state.connection, connection.isConnected { return connection }
        state.connection = nil
        if let failure = state.lastFailure, Date() < state.retryAt { throw failure }
        do {
            let connection = try PostgresConnection(target: target, applicationName: applicationName, readOnly: readOnly)
            state.connection = connection
            state.lastFailure = nil
            state.backoff = firstBackoff
            return connection
        } catch {
            state.lastFailure = error
            state.retryAt = Date(timeIntervalSinceNow: state.backoff)
            state.backoff = min(state.backoff * 2, maximumBackoff)
            throw error
        }
    }
}
