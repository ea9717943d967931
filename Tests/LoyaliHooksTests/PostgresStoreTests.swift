import Foundation
import Synchronization
import Testing

@testable import LoyaliHooks

/// What only the PostgreSQL engine has: its schema's creation and versioning on a shared database,
/// claimers on several nodes at once, wake-ups, source locks and lost connections. (The behaviour
/// both engines share is checked by the store contract suite.)
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

    @Test func theRollupsMigrationFillsTheAggregatesFromTheStoredRows() throws {
        let url = try PostgresTestServer.freshDatabase()
        let connection = try PostgresTestServer.connect(url)
        try PostgresSchema.migrate(connection, migrations: Array(PostgresSchema.migrations.prefix(2)), nowMs: 1_000)
        // Rows as a version-2 build wrote them: one delivery retried then succeeded, one failed.
        try connection.execute(
            """
            INSERT INTO deliveries (seq, id, pipeline, sink, event_id, event_type, schedule, status, attempts,
                created_at, updated_at, body)
            VALUES (1, 'whd_1', 'shop', 'crm', 'evt_1', 'points.earned', '0,60000', 'succeeded', 2, 0, 61000, '\\x7b7d'),
                   (2, 'whd_2', 'shop', 'crm', 'evt_2', 'points.earned', '0', 'failed', 1, 0, 3700000, '\\x7b7d');
            INSERT INTO attempts (delivery_seq, attempt, pipeline, sink, started_at, duration_ms, outcome)
            VALUES (1, 1, 'shop', 'crm', 0, 30, 'retry'), (1, 2, 'shop', 'crm', 60000, 1000, 'succeeded'),
                   (2, 1, 'shop', 'crm', 3699000, 1000, 'failed');
            """)
        try PostgresSchema.migrate(connection, nowMs: 2_000)
        let store = try PostgresDeliveryStore(url: url, options: StoreOptions())
        let all = try #require(try store.stats(sinceMs: nil).first)
        #expect((all.total, all.succeeded, all.failed, all.attempted, all.retried, all.attemptCount) == (2, 1, 1, 2, 1, 3))
        #expect(all.latencyP50Ms == 1_007)
        let lastHour = try #require(try store.stats(sinceMs: 3_600_000).first)
        #expect((lastHour.total, lastHour.failed, lastHour.attemptCount) == (1, 1, 1))
        let series = try store.series(sinceMs: 0, untilMs: 7_200_000, bucketMs: 3_600_000)
        #expect(series.map { [$0.succeeded, $0.retried, $0.failed] } == [[1, 1, 0], [0, 0, 1]])
        // And the triggers keep them from there: a resend moves the failed delivery to pending.
        #expect(try store.resend(ids: ["whd_2"], nowMs: 7_000_000) == ["whd_2"])
        let moved = try #require(try store.stats(sinceMs: 3_600_000).first)
        #expect(moved.pending == 1 && moved.failed == 0)
    }

    /// The triggers group each statement's rows by minute once and make both widths from those
    /// groups (migration 11): the stored aggregates still equal the ones counted from scratch,
    /// across minute and hour edges, retries, failures and a re-recorded attempt.
    @Test func theTriggersSumEachRowOnceByMinuteAndKeepTheAggregatesExact() throws {
        let url = try PostgresTestServer.freshDatabase()
        let store = try Self.open(url, node: "node-a")
        let connection = try PostgresTestServer.connect(url)
        let source = try connection.query("SELECT prosrc FROM pg_proc WHERE proname = 'loyali_rollup_updated_deliveries'").string(0, 0)
        #expect(source.contains("AS minute"))
        // 300 rows over three hours' edges, claimed and recorded in a few statements each.
        let hour: Int64 = 3_600_000
        let starts: [Int64] = [hour - 61_000, hour - 1_000, hour + 59_000, 2 * hour - 30_000]
        for (batch, start) in starts.enumerated() {
            try store.enqueue((0..<75).map { Self.delivery(batch * 75 + $0) }, checkpoint: nil, nowMs: start)
            let claimed = try store.claimDue(sinkKey: Self.sink, nowMs: start + 500, limit: 75)
            let records = claimed.enumerated().map { index, delivery in
                let outcome: AttemptOutcome = index % 5 == 0 ? .retry(atMs: start + 90_000) : index % 7 == 0 ? .failed : .succeeded
                return AttemptRecord(
                    deliveryID: delivery.id, attempt: delivery.attempt, startedAtMs: start + 1_000 + Int64(index) * 800,
                    durationMs: Int64(index * 37 % 900), httpStatus: outcome == .succeeded ? 200 : 500, outcome: outcome)
            }
            try store.record(Array(records.prefix(40)))
            try store.record(Array(records.dropFirst(40)))
            // Re-recorded: the attempt is overwritten, and counted once.
            try store.record([records[3]].map { var again = $0; again.durationMs = 5_000; return again })
        }
        try store.record(try store.claimDue(sinkKey: Self.sink, nowMs: 3 * hour, limit: 500).map {
            AttemptRecord(deliveryID: $0.id, attempt: $0.attempt, startedAtMs: 3 * hour + 10, durationMs: 3, httpStatus: 200, outcome: .succeeded)
        })
        for span in [RollupSQL.minuteMs, RollupSQL.hourMs] {
            let floor = { (column: String) in RollupSQL.floorSQL(column, "\(span)") }
            let stored = try connection.query(
                """
                SELECT start, pipeline, sink, sum(pending)::bigint, sum(retrying)::bigint, sum(in_flight)::bigint,
                    sum(succeeded)::bigint, sum(failed)::bigint, sum(attempted)::bigint, sum(retried)::bigint,
                    sum(attempts_succeeded)::bigint, sum(attempts_retried)::bigint, sum(attempts_failed)::bigint
                FROM rollups WHERE span = $1::bigint GROUP BY 1, 2, 3
                HAVING sum(pending) <> 0 OR sum(retrying) <> 0 OR sum(in_flight) <> 0 OR sum(succeeded) <> 0 OR sum(failed) <> 0
                    OR sum(attempted) <> 0 OR sum(attempts_succeeded) <> 0 OR sum(attempts_retried) <> 0 OR sum(attempts_failed) <> 0
                ORDER BY 1
                """, [.int64(span)])
            let counted = try connection.query(
                """
                SELECT coalesce(d.start, a.start), coalesce(d.pipeline, a.pipeline), coalesce(d.sink, a.sink),
                    coalesce(d.pending, 0), coalesce(d.retrying, 0), coalesce(d.in_flight, 0), coalesce(d.succeeded, 0),
                    coalesce(d.failed, 0), coalesce(d.attempted, 0), coalesce(d.retried, 0),
                    coalesce(a.ok, 0), coalesce(a.again, 0), coalesce(a.bad, 0)
                FROM (
                    SELECT \(floor("updated_at")) AS start, pipeline, sink,
                        count(*) FILTER (WHERE status = 'pending') AS pending, count(*) FILTER (WHERE status = 'retrying') AS retrying,
                        count(*) FILTER (WHERE status = 'in_flight') AS in_flight, count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                        count(*) FILTER (WHERE status = 'failed') AS failed, count(*) FILTER (WHERE attempts >= 1) AS attempted,
                        count(*) FILTER (WHERE attempts > 1) AS retried
                    FROM deliveries GROUP BY 1, 2, 3
                ) AS d FULL JOIN (
                    SELECT \(floor("started_at")) AS start, pipeline, sink, count(*) FILTER (WHERE outcome = 'succeeded') AS ok,
                        count(*) FILTER (WHERE outcome = 'retry') AS again, count(*) FILTER (WHERE outcome = 'failed') AS bad
                    FROM attempts GROUP BY 1, 2, 3
                ) AS a USING (start, pipeline, sink)
                ORDER BY 1
                """)
            let rows = { (result: PostgresResult) in
                try (0..<result.rowCount).map { row in try (0..<13).map { column in column == 1 || column == 2 ? 0 : try result.int64(row, column) } }
            }
            #expect(stored.rowCount > 1)
            #expect(try rows(stored) == rows(counted), "span \(span)")
            // Latency buckets: every attempt in one, once.
            let latency = try connection.query(
                """
                SELECT coalesce(sum(split_part(p, ':', 2)::bigint), 0)::bigint FROM rollups, unnest(string_to_array(coalesce(latency, ''), ',')) AS p
                WHERE span = $1::bigint AND p <> ''
                """, [.int64(span)])
            #expect(try latency.int64(0, 0) == connection.query("SELECT count(*) FROM attempts").int64(0, 0))
        }
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

    // MARK: Read commands

    @Test func readCommandsConnectionsRefuseWrites() throws {
        let url = try PostgresTestServer.freshDatabase()
        let node = try Self.open(url, node: "node-a")
        _ = try node.enqueue([Self.delivery(1)], checkpoint: nil, nowMs: 1_000, claiming: [])
        let reader = try PostgresDeliveryStore(existingURL: url, readOnly: true, options: StoreOptions(nodeID: "reader"))
        #expect(try reader.status().total == 1)
        // Through the very connections the reader uses: the server itself refuses the write.
        for session in [reader.work, reader.ingest] {
            #expect {
                try session.run { try $0.query("UPDATE deliveries SET status = 'failed'") }
            } throws: { error in
                (error as? PostgresError)?.sqlState == "25006"  // read_only_sql_transaction
            }
        }
        #expect(throws: PostgresError.self) {
            try reader.enqueue([Self.delivery(2)], checkpoint: nil, nowMs: 2_000, claiming: [])
        }
        // Even after the connection is lost and made again.
        reader.work.disconnect()
        #expect(throws: PostgresError.self) {
            try reader.claimDue(sinkKey: Self.sink, nowMs: 2_000, limit: 10, window: .all)
        }
        #expect(try node.status().counts[.pending] == 1)
    }

    @Test func readCommandsNeverMigrateAnOlderSchema() throws {
        let url = try PostgresTestServer.freshDatabase()
        let connection = try PostgresTestServer.connect(url)
        try PostgresSchema.migrate(connection, migrations: [PostgresSchema.migrations[0]], nowMs: 1_000)
        #expect {
            try PostgresDeliveryStore(existingURL: url, readOnly: true, options: StoreOptions())
        } throws: { error in
            guard let error = error as? DeliveryStoreError else { return false }
            return error.kind == .schemaTooOld(found: 1, needed: PostgresSchema.currentVersion)
                && error.message.contains("never migrate") && error.message.contains("'serve' or 'run'")
        }
        #expect(try PostgresSchema.version(of: connection) == 1)
        // `resend` changes the store anyway, so it brings the schema up to date, as a node would.
        _ = try PostgresDeliveryStore(existingURL: url, readOnly: false, options: StoreOptions())
        #expect(try PostgresSchema.version(of: connection) == PostgresSchema.currentVersion)
    }

    // MARK: Nodes

    private static let sink = (pipeline: "fulfillment", sink: "warehouse")

    private static func delivery(_ number: Int) -> NewDelivery {
        NewDelivery(
            id: String(format: "whd_%032x", number), pipeline: sink.pipeline, sink: sink.sink, eventID: "evt_\(number)",
            eventType: "points.earned", body: Array(#"{"n":\#(number)}"#.utf8), schedule: [0, 60_000], createdAtMs: 1_000)
    }

    private static func open(_ url: String, node: String, leaseMs: Int64 = 30_000) throws -> PostgresDeliveryStore {
        try PostgresDeliveryStore(url: url, options: StoreOptions(nodeID: node, leaseMs: leaseMs))
    }

    @Test func nodesClaimingAtOnceNeverGetTheSameDelivery() throws {
        let url = try PostgresTestServer.freshDatabase()
        let stores = try (0..<4).map { try Self.open(url, node: "node-\($0)") }
        try stores[0].enqueue((0..<2_000).map(Self.delivery), checkpoint: nil, nowMs: 5_000)
        let claimed = Mutex<[String: [String]]>([:])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: stores.count) { index in
            do {
                while true {
                    let batch = try stores[index].claimDue(sinkKey: Self.sink, nowMs: 5_000, limit: 37)
                    if batch.isEmpty { break }
                    claimed.withLock { $0[stores[index].nodeID, default: []] += batch.map(\.id) }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let all = claimed.withLock { $0.values.flatMap { $0 } }
        #expect(all.count == 2_000)
        #expect(Set(all).count == 2_000)
        // The leases name the node that claimed each row.
        let check = try PostgresTestServer.connect(url)
        let owners = try check.query("SELECT lease_owner, count(*) FROM deliveries GROUP BY lease_owner")
        var byOwner: [String: Int] = [:]
        for row in 0..<owners.rowCount { byOwner[try owners.string(row, 0)] = Int(try owners.int64(row, 1)) }
        #expect(byOwner == claimed.withLock { $0.mapValues(\.count) })
    }

    /// Rows due at the same ms (a whole ingest batch) are taken oldest first straight from the due
    /// index: a claim reads as many rows as it takes, not the whole batch to sort it.
    @Test func aClaimReadsOnlyTheRowsItTakes() throws {
        let url = try PostgresTestServer.freshDatabase()
        let store = try Self.open(url, node: "node-a")
        try store.enqueue((0..<1_000).map(Self.delivery), checkpoint: nil, nowMs: 5_000)
        let connection = try PostgresTestServer.connect(url)
        try connection.execute("ANALYZE deliveries")
        try connection.query("BEGIN")
        let plan = try connection.query(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + PostgresDeliveryStore.claimSQL,
            [.text(Self.sink.pipeline), .text(Self.sink.sink), .int64(5_000), .int(16), .text("node-a"), .int64(35_000)],
            prepare: false)
        try connection.query("ROLLBACK")
        let lines = try (0..<plan.rowCount).map { try plan.string($0, 0) }
        #expect(!lines.contains { $0.contains("Sort") }, "\(lines.joined(separator: "\n"))")
        let scan = try #require(lines.first { $0.contains("Index Scan using deliveries_due_by_sink") })
        #expect(scan.contains("rows=16 "), "\(lines.joined(separator: "\n"))")
        // The claim still takes the oldest: the first 16 enqueued.
        #expect(try store.claimDue(sinkKey: Self.sink, nowMs: 5_000, limit: 16).map(\.id) == (0..<16).map { Self.delivery($0).id })
    }

    /// Marking attempts started changes no indexed column, and the pages keep room for the new
    /// version, so each row is updated in its own page (HOT, no index entries written).
    @Test func markingAttemptsStartedUpdatesRowsInTheirPages() throws {
        let url = try PostgresTestServer.freshDatabase()
        let store = try Self.open(url, node: "node-a")
        // Claimed at ingest, as the reading node's lanes take them.
        let claimed = try store.enqueue((0..<300).map(Self.delivery), checkpoint: nil, nowMs: 5_000, claiming: Set(0..<300)).claimed
        #expect(claimed.count == 300)
        let connection = try PostgresTestServer.connect(url)
        let pages = { () throws -> [String: String] in
            let result = try connection.query("SELECT id, (ctid::text::point)[0]::bigint::text FROM deliveries")
            return Dictionary(uniqueKeysWithValues: try (0..<result.rowCount).map { (try result.string($0, 0), try result.string($0, 1)) })
        }
        let before = try pages()
        #expect(try store.markStarted(ids: claimed.map(\.id)) == [])
        let after = try pages()
        let stayed = before.filter { after[$0.key] == $0.value }.count
        #expect(stayed >= 290, "\(stayed) of 300 rows kept their page")
    }

    @Test("marking attempts started and renewing leases write no aggregate rows: the update trigger skips a statement with no net change")
    func updatesWithNoCountedChangeWriteNoRollups() throws {
        let url = try PostgresTestServer.freshDatabase()
        let store = try Self.open(url, node: "node-a")
        try store.enqueue((0..<20).map(Self.delivery), checkpoint: nil, nowMs: 10_000)
        let held = try store.claimDue(sinkKey: Self.sink, nowMs: 10_000, limit: 20)
        let connection = try PostgresTestServer.connect(url)
        func versions() throws -> [String] {
            let result = try connection.query("SELECT xmin::text FROM rollups ORDER BY span, start, pipeline, sink, shard")
            return try (0..<result.rowCount).map { try result.string($0, 0) }
        }
        let before = try versions()
        #expect(!before.isEmpty)
        #expect(try store.markStarted(ids: held.map(\.id)).isEmpty)
        #expect(try store.renewLeases(ids: held.map(\.id), nowMs: 11_000).isEmpty)
        #expect(try versions() == before, "no rollup row was rewritten")
        // A real change still counts.
        try store.record([AttemptRecord(
            deliveryID: held[0].id, attempt: 1, startedAtMs: 11_000, durationMs: 5, httpStatus: 200, outcome: .succeeded)])
        #expect(try versions() != before)
        let stats = try #require(try store.stats(sinceMs: nil).first)
        #expect(stats.succeeded == 1 && stats.inFlight == 19)
    }

    @Test func anotherNodeTakesOverExpiredLeasesOnce() throws {
        let url = try PostgresTestServer.freshDatabase()
        let dead = try Self.open(url, node: "node-dead", leaseMs: 1_000)
        let survivors = try (0..<3).map { try Self.open(url, node: "node-\($0)", leaseMs: 1_000) }
        try dead.enqueue((0..<300).map(Self.delivery), checkpoint: nil, nowMs: 10_000)
        let held = try dead.claimDue(sinkKey: Self.sink, nowMs: 10_000, limit: 300)
        #expect(held.count == 300)
        // It had started the first 100 when it died; the other 200 were claimed ahead.
        #expect(try dead.markStarted(ids: held.prefix(100).map(\.id)).isEmpty)
        let started = Set(held.prefix(100).map(\.id))
        // Not yet expired: nothing to take.
        #expect(try survivors[0].reclaimExpiredLeases(nowMs: 10_999) == 0)
        let reclaimed = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: survivors.count) { index in
            let count = (try? survivors[index].reclaimExpiredLeases(nowMs: 11_001)) ?? -1_000
            reclaimed.withLock { $0 += count }
        }
        #expect(reclaimed.withLock { $0 } == 300)
        let taken = try survivors[1].claimDue(sinkKey: Self.sink, nowMs: 11_001, limit: 1_000)
        #expect(taken.count == 300)
        #expect(taken.allSatisfy { $0.attempt == (started.contains($0.id) ? 2 : 1) })
        // The dead node cannot renew what it lost; the interrupted attempt is logged as its own.
        let cutOff = try #require(taken.first { started.contains($0.id) })
        #expect(try dead.renewLeases(ids: [cutOff.id], nowMs: 11_002) == [cutOff.id])
        #expect(try dead.markStarted(ids: [cutOff.id]) == [cutOff.id], "nor start it")
        let (_, attempts) = try #require(try survivors[2].detail(id: cutOff.id))
        #expect(attempts.map(\.node) == ["node-dead"])
        #expect(attempts.map(\.errorClass) == [AttemptRecord.interruptedErrorClass])
        let unstarted = try #require(taken.first { !started.contains($0.id) })
        #expect(try survivors[2].detail(id: unstarted.id)?.1.isEmpty == true, "claimed, never started: no attempt")
    }

    @Test func newWorkWakesAListeningNodeAtOnce() throws {
        let url = try PostgresTestServer.freshDatabase()
        let sender = try Self.open(url, node: "node-a")
        let listener = try Self.open(url, node: "node-b")
        let wakes = Mutex(0)
        let woken = Wakeup()
        // A poll interval far longer than the test: any wake after the first is a notification.
        let notifier = PostgresNotifier(store: listener, pollInterval: 3_600) {
            wakes.withLock { $0 += 1 }
            woken.signal()
        }
        defer { notifier.stop() }
        woken.wait(until: Date(timeIntervalSinceNow: 10))  // connected and listening
        #expect(wakes.withLock { $0 } == 1)
        let started = Date()
        try sender.enqueue([Self.delivery(1)], checkpoint: nil, nowMs: 1_000)
        woken.wait(until: Date(timeIntervalSinceNow: 10))
        #expect(wakes.withLock { $0 } == 2)
        #expect(Date().timeIntervalSince(started) < 2)
        // A resend announces too.
        #expect(try listener.claimDue(sinkKey: Self.sink, nowMs: 1_000, limit: 10).count == 1)
        try listener.record([
            AttemptRecord(deliveryID: Self.delivery(1).id, attempt: 1, startedAtMs: 1_000, durationMs: 5, httpStatus: 500, outcome: .failed)
        ])
        #expect(try sender.resend(ids: [Self.delivery(1).id], nowMs: 2_000) == [Self.delivery(1).id])
        woken.wait(until: Date(timeIntervalSinceNow: 10))
        #expect(wakes.withLock { $0 } == 3)
    }

    @Test func otherNodesAreTheListenersOfOtherNodeIDs() throws {
        let url = try PostgresTestServer.freshDatabase()
        let first = try Self.open(url, node: "node-a")
        // Long and not ASCII: the server would cut or mask it in application_name.
        let second = try Self.open(url, node: "nœud-b-" + String(repeating: "x", count: 80))
        let sameAsSecond = try Self.open(url, node: second.nodeID)
        #expect(try first.otherNodes() == 0)
        var notifiers: [PostgresNotifier] = []
        defer { notifiers.forEach { $0.stop() } }
        for store in [second, sameAsSecond, first] {
            let listening = Wakeup()
            notifiers.append(PostgresNotifier(store: store, pollInterval: 3_600) { listening.signal() })
            listening.wait(until: Date(timeIntervalSinceNow: 10))
        }
        // One other node however many listeners it runs; never the asking node itself.
        #expect(try first.otherNodes() == 1)
        #expect(try second.otherNodes() == 1)
        notifiers.removeLast().stop()
        notifiers.removeLast().stop()
        notifiers.removeLast().stop()
        let deadline = Date(timeIntervalSinceNow: 5)
        while try first.otherNodes() > 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(try first.otherNodes() == 0)
    }

    @Test func aNodeReadingASourceLeavesWhatItsLanesHaveNoRoomForToOtherNodes() throws {
        let url = try PostgresTestServer.freshDatabase()
        let events = (1...400).map { #"{"id":"evt_\#($0)","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{"n":\#($0)}}"# }
        let harness = try RunnerHarness(events: events)
        // Answers each request a moment later (one per round of the helper below), so the
        // reading node's lanes stay full while always making progress: paced by them alone, it
        // would never leave anything behind.
        let sink = ScriptedSink { _ in nil }
        let reader = try Self.open(url, node: "node-reader")
        let helper = try Self.open(url, node: "node-helper")
        let helperListens = Wakeup()
        let helperNotifier = PostgresNotifier(store: helper, pollInterval: 3_600) { helperListens.signal() }
        defer { helperNotifier.stop() }
        // The reader leaves work behind only once it sees the helper listening.
        #expect(helperListens.wait(until: Date(timeIntervalSinceNow: 60)), "the helper node never listened")
        #expect(ServeFixture.eventually(seconds: 60) { (try? reader.otherNodes()) == 1 }, "the reader never saw the helper node")
        var options = DeliveryRunner.Options()
        options.mode = .drain
        options.batchSize = 10
        let runner = DeliveryRunner(
            pipelines: try harness.pipelines(DeliveryRunnerTests.yaml(), sinks: ["hook": sink]), store: reader,
            options: options, logger: Logger(format: .logfmt) { _ in })
        let done = Wakeup()
        let outcome = RunOutcome()
        Thread.detachNewThread {
            outcome.set(try? runner.run())
            done.signal()
        }
        // The helper node claims what waits in the store, as a runner would, and records it sent.
        var helped = 0
        let deadline = Date(timeIntervalSinceNow: 120)
        while Date() < deadline {
            let over = outcome.withLock { $0 != nil }
            let claimed = try helper.claimDue(sinkKey: (pipeline: "runner", sink: "hook"), nowMs: Int64(Date().timeIntervalSince1970 * 1000), limit: 20)
            try helper.record(claimed.map {
                AttemptRecord(deliveryID: $0.id, attempt: $0.attempt, startedAtMs: 1_000, durationMs: 1, httpStatus: 200, outcome: .succeeded)
            })
            helped += claimed.count
            // One answer per round (each round is two database round trips and a millisecond):
            // the lanes stay slower than the reading however loaded the machine, and still make
            // progress well within the hand-off's patience.
            sink.held.withLock { held in held.isEmpty ? nil : held.removeFirst() }?()
            if over && claimed.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.001)
        }
        done.wait(until: Date(timeIntervalSinceNow: 60))
        #expect(outcome.withLock { $0 != nil })
        // Every event delivered once, by one node or the other, and the helper had a share.
        #expect(try reader.counts()[.succeeded] == 400)
        #expect(helped > 0)
        #expect(sink.count + helped == 400)
    }

    @Test func aFileSourceIsReadByOneNodeAndOnlyItsHolderMovesTheCheckpoint() throws {
        let url = try PostgresTestServer.freshDatabase()
        let first = try Self.open(url, node: "node-a")
        let second = try Self.open(url, node: "node-b")
        #expect(try first.acquireSourceLock("file:/var/events.jsonl"))
        #expect(try first.acquireSourceLock("file:/var/events.jsonl"))  // held already
        #expect(try !second.acquireSourceLock("file:/var/events.jsonl"))
        #expect(try second.acquireSourceLock("file:/var/other.jsonl"))
        try first.enqueue([Self.delivery(1)], checkpoint: ("file:/var/events.jsonl", 120), nowMs: 1_000)
        #expect(throws: PostgresError.self) {
            try second.enqueue([Self.delivery(2)], checkpoint: ("file:/var/events.jsonl", 240), nowMs: 1_000)
        }
        #expect(try second.checkpoint(source: "file:/var/events.jsonl") == 120)
        #expect(try second.list(DeliveryQuery()).map(\.id) == [Self.delivery(1).id])  // the refused batch left nothing
        // The holder loses its connection: the lock goes with it (once the server has seen the
        // session end), another node takes it, and the first node's next commit is refused.
        first.ingest.disconnect()
        let deadline = Date(timeIntervalSinceNow: 5)
        var taken = false
        while !taken, Date() < deadline {
            taken = try second.acquireSourceLock("file:/var/events.jsonl")
            if !taken { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(taken)
        #expect(throws: PostgresError.self) {
            try first.enqueue([Self.delivery(3)], checkpoint: ("file:/var/events.jsonl", 360), nowMs: 1_000)
        }
        try second.enqueue([Self.delivery(2)], checkpoint: ("file:/var/events.jsonl", 240), nowMs: 1_000)
        #expect(try first.checkpoint(source: "file:/var/events.jsonl") == 240)
    }

    @Test func aLostDatabaseFailsWritesAsUnavailableUntilItIsBack() throws {
        let url = try PostgresTestServer.freshDatabase()
        let store = try Self.open(url, node: "node-a")
        // ALTER DATABASE … ALLOW_CONNECTIONS needs a session in another database.
        let admin = try PostgresTestServer.connect(try #require(PostgresTestServer.adminURL))
        try store.enqueue([Self.delivery(1)], checkpoint: nil, nowMs: 1_000)
        #expect(store.writeFailure == nil)
        // Cut every session of the store and refuse new ones, as a database going down does.
        try admin.execute("ALTER DATABASE \(Self.databaseName(url)) ALLOW_CONNECTIONS false")
        try admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [.text(Self.databaseName(url))])
        #expect {
            try store.enqueue([Self.delivery(2)], checkpoint: nil, nowMs: 1_000)
        } throws: { error in
            WriteHealth.isStoreUnavailable(error)
        }
        #expect(store.writeFailure != nil)
        // Back: the next write after the backoff reconnects, and the failure clears.
        try admin.execute("ALTER DATABASE \(Self.databaseName(url)) ALLOW_CONNECTIONS true")
        let deadline = Date(timeIntervalSinceNow: 10)
        var stored = false
        while !stored, Date() < deadline {
            stored = (try? store.enqueue([Self.delivery(2)], checkpoint: nil, nowMs: 1_000)) != nil
            if !stored { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(stored)
        #expect(store.writeFailure == nil)
        #expect(try store.counts()[.pending] == 2)
    }

    private static func databaseName(_ url: String) -> String {
        String(url[url.index(after: url.lastIndex(of: "/")!)...])
    }

    // MARK: A runner's leases

    /// A clock the test moves by hand.
    private final class HandClock: DeliveryClock, @unchecked Sendable {
        // `@unchecked`: `now` is only touched under `lock`.
        private let lock = NSLock()
        private var now: Int64
        init(_ now: Int64) { self.now = now }
        func nowMs() -> Int64 { lock.withLock { now } }
        func advance(_ ms: Int64) { lock.withLock { now += ms } }
        func sleep(untilMs deadlineMs: Int64, wakeup: Wakeup) {}
    }

    @Test func aLiveNodeKeepsItsLeasesAndADeadNodesAreTakenBack() throws {
        let url = try PostgresTestServer.freshDatabase()
        let clock = HandClock(100_000)
        let live = try Self.open(url, node: "node-live", leaseMs: 4_000)
        let dead = try Self.open(url, node: "node-dead", leaseMs: 4_000)
        let other = try Self.open(url, node: "node-other", leaseMs: 4_000)
        let logger = Logger(format: .logfmt) { _ in }
        let liveKeeper = LeaseKeeper(store: live, clock: clock, logger: logger)
        let otherKeeper = LeaseKeeper(store: other, clock: clock, logger: logger)
        try live.enqueue((0..<20).map(Self.delivery), checkpoint: nil, nowMs: clock.nowMs())
        let mine = try live.claimDue(sinkKey: Self.sink, nowMs: clock.nowMs(), limit: 10)
        let theirs = try dead.claimDue(sinkKey: Self.sink, nowMs: clock.nowMs(), limit: 10)
        liveKeeper.hold(mine.map(\.id), confirmedAtMs: clock.nowMs())
        #expect(liveKeeper.mayStart(mine[0].id, nowMs: clock.nowMs()))
        // Time passes in quarter leases; the live node's keeper renews its leases, and once the
        // dead node's have run out, takes its deliveries back (once).
        var reclaims = 0
        for _ in 0..<8 {
            clock.advance(1_000)
            if liveKeeper.tick() { reclaims += 1 }
        }
        #expect(reclaims == 1)
        #expect(!otherKeeper.tick())
        // Another node claims the dead node's deliveries, never the live node's.
        let due = try other.claimDue(sinkKey: Self.sink, nowMs: clock.nowMs(), limit: 100)
        #expect(Set(due.map(\.id)) == Set(theirs.map(\.id)))
        #expect(liveKeeper.mayStart(mine[0].id, nowMs: clock.nowMs()))
        // The database goes out of reach for the live node: after half a lease without a renewal
        // it starts nothing more, before the lease can run out under it.
        live.work.disconnect()
        let admin = try PostgresTestServer.connect(try #require(PostgresTestServer.adminURL))
        try admin.execute("ALTER DATABASE \(Self.databaseName(url)) ALLOW_CONNECTIONS false")
        try admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [.text(Self.databaseName(url))])
        clock.advance(1_000)
        liveKeeper.tick()
        #expect(liveKeeper.mayStart(mine[0].id, nowMs: clock.nowMs()))
        clock.advance(1_500)
        liveKeeper.tick()
        #expect(!liveKeeper.mayStart(mine[0].id, nowMs: clock.nowMs()))
        try admin.execute("ALTER DATABASE \(Self.databaseName(url)) ALLOW_CONNECTIONS true")
    }
}
