import Foundation
import Synchronization
import Testing

@testable import LoyaliHooks

/// What only the PostgreSQL engine has: its schema's creation and versioning on a shared database.
/// (The behaviour both engines share is checked by the store contract suite.)
@Suite("PostgreSQL store", .enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
struct PostgresStoreTests {
    // MARK: Schema

    @Test func createsTheSchemaOnFirstUseAndRecordsItsVersion() throws {
        let connection = try PostgresTestServer.connect(PostgresTestServer.freshDatabase())
        #expect(try PostgresSchema.version(of: connection) == 0)
        #expect(try PostgresSchema.migrate(connection, nowMs: 1_000) == 0)
        #expect(try PostgresSchema.version(of: connection) == PostgresSchema.currentVersion)
        // Again: nothing to do.
        #expect(try PostgresSchema.migrate(connection, nowMs: 2_000) == PostgresSchema.currentVersion)
        let tables = try connection.query(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('deliveries', 'attempts', 'checkpoints', 'loyali_schema')")
        #expect(try tables.int64(0, 0) == 4)
    }

    @Test func migratesAnOlderSchemaForward() throws {
        let connection = try PostgresTestServer.connect(PostgresTestServer.freshDatabase())
        let older = [PostgresSchema.migrations[0]]
        try PostgresSchema.migrate(connection, migrations: older, nowMs: 1_000)
        let next = StoreMigration(version: 2, summary: "a column", sql: "ALTER TABLE deliveries ADD COLUMN extra text")
        #expect(try PostgresSchema.migrate(connection, migrations: older + [next], nowMs: 2_000) == 1)
        #expect(try PostgresSchema.version(of: connection) == 2)
        #expect(try connection.query("SELECT count(*) FROM information_schema.columns WHERE column_name = 'extra'").int64(0, 0) == 1)
    }

    @Test func refusesASchemaFromANewerBuild() throws {
        let connection = try PostgresTestServer.connect(PostgresTestServer.freshDatabase())
        let newer = PostgresSchema.migrations + [
            StoreMigration(version: PostgresSchema.currentVersion + 1, summary: "future", sql: "CREATE TABLE future (x int)")
        ]
        try PostgresSchema.migrate(connection, migrations: newer, nowMs: 1_000)
        #expect {
            try PostgresSchema.migrate(connection, nowMs: 2_000)
        } throws: { error in
            guard let error = error as? DeliveryStoreError else { return false }
            return error.kind == .schemaTooNew(found: PostgresSchema.currentVersion + 1, known: PostgresSchema.currentVersion)
        }
    }

    @Test func nodesStartingTogetherMigrateOnce() throws {
        let url = try PostgresTestServer.freshDatabase()
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do {
                try PostgresSchema.migrate(PostgresTestServer.connect(url), nowMs: 1_000)
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let connection = try PostgresTestServer.connect(url)
        #expect(try connection.query("SELECT count(*) FROM loyali_schema").int64(0, 0) == Int64(PostgresSchema.currentVersion))
    }
}
