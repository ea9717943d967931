import Foundation
import Testing

@testable import LoyaliHooks

/// The libpq wrapper: URLs and their redaction (no server needed), then queries, errors,
/// transactions, notifications and lost connections against the test server.
@Suite("PostgreSQL connection")
struct PostgresConnectionTests {
    // MARK: URLs (no server)

    @Test("a password in the URL is never shown", arguments: [
        ("postgres://app:s3cret-pw@db.example:5432/hooks", "postgres://app:********@db.example:5432/hooks", ["s3cret-pw"]),
        ("postgresql://app:p%40ss%2Fword@db/hooks?sslmode=require", "postgresql://app:********@db/hooks?sslmode=require",
         ["p%40ss%2Fword", "p@ss/word"]),
        ("postgres://app@db/hooks?password=s3cret-pw&sslmode=disable", "postgres://app@db/hooks?password=********&sslmode=disable",
         ["s3cret-pw"]),
        ("postgres://app@db/hooks", "postgres://app@db/hooks", []),
    ])
    func redactsURL(url: String, shown: String, secrets: [String]) throws {
        let target = try PostgresTarget(url: url)
        #expect(target.redacted == shown)
        #expect("\(target)" == shown)
        // Also in any other text, decoded or not (libpq and the server quote either).
        let message = target.redaction.apply("failed for \(url): " + secrets.joined(separator: " "))
        for secret in secrets { #expect(!message.contains(secret)) }
    }

    @Test func rejectsMalformedURLWithoutShowingItsPassword() {
        for url in ["postgres://app:s3cret-pw@db/hooks?nosuchoption=1", "mysql://app:s3cret-pw@db/hooks"] {
            #expect {
                try PostgresTarget(url: url)
            } throws: { error in
                let text = "\(error)"
                return !text.contains("s3cret-pw") && text.contains("********")
            }
        }
        #expect(PostgresTarget.isPostgresURL("POSTGRESQL://x"))
        #expect(!PostgresTarget.isPostgresURL("/var/lib/loyali-hooks"))
    }

    @Test func redactsPGPASSWORDToo() throws {
        let target = try PostgresTarget(url: "postgres://app@db/hooks", environment: ["PGPASSWORD": "from-env-secret"])
        #expect(target.redaction.apply("x from-env-secret y") == "x ******** y")
    }

    // MARK: Against the test server

    @Test(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func roundTripsParametersAndResults() throws {
        let connection = try PostgresTestServer.connect(PostgresTestServer.freshDatabase())
        let body: [UInt8] = [0, 1, 2, 0xFF, 0, 0x7F]
        let result = try connection.query(
            "SELECT $1::text, $2::bigint, $3::bytea, $4::text IS NULL, $5::int, -$2::bigint",
            [.text("héllo ✓ \"q\" \\"), .int64(Int64.max), .bytes(body), .null, .int64(-7)])
        #expect(result.rowCount == 1)
        #expect(try result.string(0, 0) == "héllo ✓ \"q\" \\")
        #expect(try result.int64(0, 1) == Int64.max)
        #expect(try result.bytes(0, 2) == body)
        #expect(try result.bool(0, 3))
        #expect(try result.int64(0, 4) == -7)
        #expect(try result.int64(0, 5) == -Int64.max)
        #expect(try result.optionalString(0, 1) == String(Int64.max))
        #expect(throws: PostgresError.self) { try result.bytes(0, 0) }
        // Arrays: a whole batch in one parameter per column, NULL elements included.
        let rows = try connection.query(
            "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) WITH ORDINALITY AS u(t, n, b, i) ORDER BY i",
            [.textArray(["a", nil, "c,\"}{"]), .int64Array([1, 2, nil]), .bytesArray([[1], [], nil])])
        #expect(rows.rowCount == 3)
        #expect(try rows.optionalString(1, 0) == nil)
        #expect(try rows.string(2, 0) == "c,\"}{")
        #expect(try rows.optionalInt64(2, 1) == nil)
        #expect(try rows.bytes(0, 2) == [1])
        #expect(try rows.bytes(1, 2) == [])
        #expect(rows.isNull(2, 2))
        // Prepared once, run again with other values.
        #expect(try connection.query("SELECT $1::bigint + 1", [.int64(41)]).int64(0, 0) == 42)
        #expect(try connection.query("SELECT $1::bigint + 1", [.int64(1)]).int64(0, 0) == 2)
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func errorsCarrySQLStateAndStatement() throws {
        let connection = try PostgresTestServer.connect(PostgresTestServer.freshDatabase())
        try connection.execute("CREATE TABLE t (id text PRIMARY KEY); INSERT INTO t VALUES ('a')")
        #expect {
            try connection.query("INSERT INTO t VALUES ($1)", [.text("a")])
        } throws: { error in
            guard let error = error as? PostgresError else { return false }
            return error.sqlState == "23505" && !error.isConnectionLoss && error.sql?.contains("INSERT INTO t") == true
                && "\(error)".hasPrefix("PostgreSQL error 23505: duplicate key value")
        }
        #expect {
            try connection.query("SELECT * FROM missing")
        } throws: { error in
            (error as? PostgresError)?.sqlState == "42P01"
        }
        // The connection is still usable after a refused statement.
        #expect(try connection.query("SELECT count(*) FROM t").int64(0, 0) == 1)
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func transactionRollsBackOnError() throws {
        let connection = try PostgresTestServer.connect(PostgresTestServer.freshDatabase())
        try connection.execute("CREATE TABLE t (id text PRIMARY KEY)")
        #expect(throws: PostgresError.self) {
            try connection.transaction {
                try connection.query("INSERT INTO t VALUES ($1)", [.text("x")])
                try connection.query("INSERT INTO t VALUES ($1)", [.text("x")])
            }
        }
        #expect(try connection.query("SELECT count(*) FROM t").int64(0, 0) == 0)
        try connection.transaction { try connection.query("INSERT INTO t VALUES ($1)", [.text("y")]) }
        #expect(try connection.query("SELECT count(*) FROM t").int64(0, 0) == 1)
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func deliversNotifications() throws {
        let url = try PostgresTestServer.freshDatabase()
        let listener = try PostgresTestServer.connect(url)
        let sender = try PostgresTestServer.connect(url)
        try listener.execute("LISTEN loyali_work")
        #expect(try listener.takeNotifications().isEmpty)
        try sender.query("SELECT pg_notify('loyali_work', $1)", [.text("fulfillment/warehouse")])
        #expect(listener.waitForInput(milliseconds: 5_000))
        let received = try listener.takeNotifications()
        #expect(received.map(\.channel) == ["loyali_work"])
        #expect(received.map(\.payload) == ["fulfillment/warehouse"])
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func aTerminatedSessionIsAConnectionLoss() throws {
        let url = try PostgresTestServer.freshDatabase()
        let victim = try PostgresTestServer.connect(url)
        let pid = try victim.query("SELECT pg_backend_pid()").int64(0, 0)
        let admin = try PostgresTestServer.connect(url)
        try admin.query("SELECT pg_terminate_backend($1::int)", [.int64(pid)])
        #expect {
            try victim.query("SELECT 1")
        } throws: { error in
            (error as? PostgresError)?.isConnectionLoss == true
        }
        #expect(!victim.isConnected)
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func anUnreachableServerIsAConnectionLoss() throws {
        // Port 1: nothing listens there.
        let url = "postgres://app:s3cret-pw@127.0.0.1:1/hooks"
        #expect {
            try PostgresConnection(target: PostgresTarget(url: url), connectTimeoutSeconds: 2)
        } throws: { error in
            guard let error = error as? PostgresError else { return false }
            return error.isConnectionLoss && !"\(error)".contains("s3cret-pw") && "\(error)".contains("app:********@127.0.0.1")
        }
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable && PostgresTestServer.tcpURL != nil, PostgresTestServer.skipReason))
    func takesThePasswordFromAPassfileAndNeverShowsAWrongOne() throws {
        let tcpURL = try #require(PostgresTestServer.tcpURL)
        let password = try #require(PostgresTestServer.password)
        // Without a password the server refuses, and that is not a lost connection.
        #expect {
            try PostgresTestServer.connect(tcpURL + "?passfile=/nonexistent")
        } throws: { error in
            (error as? PostgresError)?.isConnectionLoss == false
        }
        // A wrong password in the URL: refused, and not shown.
        let wrong = tcpURL.replacingOccurrences(of: "postgres@", with: "postgres:wrong-password-123@")
        #expect {
            try PostgresTestServer.connect(wrong + "?passfile=/nonexistent")
        } throws: { error in
            let text = "\(error)"
            return !text.contains("wrong-password-123") && text.contains("password authentication failed")
        }
        // A .pgpass-style file (mode 0600, as libpq insists).
        let passfile = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: passfile) }
        _ = FileManager.default.createFile(
            atPath: passfile, contents: Data("*:*:*:postgres:\(password)\n".utf8), attributes: [.posixPermissions: 0o600])
        let connection = try PostgresTestServer.connect(tcpURL + "?passfile=\(passfile)")
        #expect(try connection.query("SELECT 1").int64(0, 0) == 1)
        // PGPASSWORD. Only this test talks over TCP, so setting it affects no other test.
        setenv("PGPASSWORD", password, 1)
        defer { unsetenv("PGPASSWORD") }
        let fromEnvironment = try PostgresTestServer.connect(tcpURL + "?passfile=/nonexistent")
        #expect(try fromEnvironment.query("SELECT 2").int64(0, 0) == 2)
    }
}
