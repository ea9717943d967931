import Foundation
import Testing

@testable import LoyaliHooks

/// The throwaway PostgreSQL that `make test` starts (`.ci/with-postgres`), and a fresh database on
/// it per test, so tests running in parallel never see each other's rows, locks or channels.
enum PostgresTestServer {
    /// The superuser URL over the unix socket (no password), or `nil` when no server was started.
    static let adminURL: String? = ProcessInfo.processInfo.environment["LOYALI_HOOKS_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    /// The same server over loopback TCP, where it asks for ``password``.
    static let tcpURL: String? = ProcessInfo.processInfo.environment["LOYALI_HOOKS_TEST_POSTGRES_TCP"]
    /// The superuser's password (random per run).
    static let password: String? = ProcessInfo.processInfo.environment["LOYALI_HOOKS_TEST_POSTGRES_PASSWORD"]
    /// A script taking `stop` or `start`, to restart the server under a running node.
    static let controlScript: String? = ProcessInfo.processInfo.environment["LOYALI_HOOKS_TEST_POSTGRES_CTL"]

    /// Whether the PostgreSQL tests can run.
    static var isAvailable: Bool { adminURL != nil }

    /// Shown for every PostgreSQL test that is skipped.
    static let skipReason: Comment =
        "PostgreSQL tests skipped: no test server (LOYALI_HOOKS_TEST_POSTGRES is unset). `make test` starts one; or run `bash .ci/with-postgres swift test` with Debian's postgresql installed."

    /// `url` with its database name (the last path segment) replaced by `name`.
    static func url(_ url: String, database name: String) -> String {
        let query = url.firstIndex(of: "?") ?? url.endIndex
        let slash = url[..<query].lastIndex(of: "/")!
        return String(url[..<slash]) + "/" + name + String(url[query...])
    }

    /// Creates an empty database and returns its URL (over the socket).
    static func freshDatabase() throws -> String {
        guard let adminURL else { throw PostgresError(sqlState: nil, message: "no test server") }
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try PostgresConnection(target: PostgresTarget(url: adminURL))
        try admin.execute("CREATE DATABASE \(name)")
        return url(adminURL, database: name)
    }

    /// Connects to `url`.
    static func connect(_ url: String) throws -> PostgresConnection {
        try PostgresConnection(target: PostgresTarget(url: url))
    }
}
