import Foundation
import Testing

@testable import LoyaliHooks

// The store contract (`DeliveryStore`), checked against every engine in `StoreEngineFixture.all`:
// what the runner, `serve` and the read commands rely on, whichever database holds the state.
// Engine-specific behaviour (SQLite's file modes, WAL, the id column's encoding) is tested in the
// engine's own file.

/// One fresh, empty database of one engine. Opens as many connections as a test wants, each as
/// a node of its own; removes the database when the value goes away.
final class StoreScope: @unchecked Sendable {
    // `@unchecked`: every stored property is immutable; `cleanup` runs once, from deinit.
    let opener: @Sendable (StoreOptions) throws -> any DeliveryStore
    let schemaBump: @Sendable (Int) throws -> Void
    private let cleanup: @Sendable () -> Void

    /// A scope that opens stores with `opener`, sets the schema version with `schemaBump`, and
    /// removes everything with `cleanup`.
    init(
        opener: @escaping @Sendable (StoreOptions) throws -> any DeliveryStore,
        schemaBump: @escaping @Sendable (Int) throws -> Void,
        cleanup: @escaping @Sendable () -> Void
    ) {
        self.opener = opener
        self.schemaBump = schemaBump
        self.cleanup = cleanup
    }

    deinit { cleanup() }

    /// A connection acting as node `node`, whose leases run `leaseMs`.
    func open(node: String = "node-a", leaseMs: Int64 = 30_000) throws -> any DeliveryStore {
        try opener(StoreOptions(nodeID: node, leaseMs: leaseMs))
    }

    /// Writes schema version `version` into the database, as a newer build would have.
    func setSchemaVersion(_ version: Int) throws { try schemaBump(version) }
}

/// An engine the contract suite runs against. An engine that needs a server (PostgreSQL) adds
/// itself to ``all`` only when a test server is available.
struct StoreEngineFixture: Sendable, CustomTestStringConvertible {
    /// The engine's name in test output.
    let name: String
    /// The schema version this build writes with the engine.
    let schemaVersion: Int
    /// Makes a fresh, empty database.
    let makeScope: @Sendable () throws -> StoreScope

    var testDescription: String { name }

    /// Every engine available here.
    static var all: [StoreEngineFixture] { PostgresTestServer.isAvailable ? [.sqlite, .postgresql] : [.sqlite] }

    /// SQLite, in a fresh state directory.
    static let sqlite = StoreEngineFixture(name: "sqlite", schemaVersion: SQLiteDeliveryStore.schemaVersion) {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("loyali-contract-\(UUID().uuidString)", isDirectory: true).path
        return StoreScope(
            opener: { try SQLiteDeliveryStore(directory: directory, options: $0) },
            schemaBump: { version in
                let database = try SQLiteDatabase(path: directory + "/" + SQLiteDeliveryStore.fileName)
                try database.execute("PRAGMA user_version = \(version)")
            },
            cleanup: { try? FileManager.default.removeItem(atPath: directory) })
    }

    /// PostgreSQL, in a fresh database on the test server (see ``PostgresTestServer``).
    static let postgresql = StoreEngineFixture(name: "postgresql", schemaVersion: PostgresSchema.currentVersion) {
        let url = try PostgresTestServer.freshDatabase()
        return StoreScope(
            opener: { try PostgresDeliveryStore(url: url, options: $0) },
            schemaBump: { version in
                let connection = try PostgresTestServer.connect(url)
                try connection.query(
                    "INSERT INTO loyali_schema (version, summary, applied_at) VALUES ($1::int, 'a newer build', 0)", [.int(version)])
            },
            // The cluster is thrown away after the run; databases need no dropping.
            cleanup: {})
    }
}

/// Rows for the contract tests.
private enum Rows {
    static let schedule: [Int64] = [0, 60_000, 300_000]
    static let sink = (pipeline: "fulfillment", sink: "warehouse")

    /// A delivery numbered `number`, with a canonical `whd_` id derived from it.
    static func delivery(
        _ number: Int, sink: (pipeline: String, sink: String) = Rows.sink, schedule: [Int64] = Rows.schedule,
        createdAtMs: Int64 = 1_000
    ) -> NewDelivery {
        let hex = String(UInt64(number) &* 0x9E37_79B9_7F4A_7C15, radix: 16)
        let id = "whd_" + String(repeating: "0", count: 32 - hex.count) + hex
        return NewDelivery(
            id: id, pipeline: sink.pipeline, sink: sink.sink, eventID: "evt_\(number)", eventType: "points.earned",
            body: Array(#"{"n":\#(number)}"#.utf8), schedule: schedule, createdAtMs: createdAtMs)
    }

    /// The attempt record of `claimed` with `outcome`.
    static func attempt(_ claimed: ClaimedDelivery, at startedAtMs: Int64, outcome: AttemptOutcome, status: Int? = 500) -> AttemptRecord {
        AttemptRecord(
            deliveryID: claimed.id, attempt: claimed.attempt, startedAtMs: startedAtMs, durationMs: 7,
            httpStatus: status, errorMessage: status == 200 ? nil : "HTTP \(status ?? 0)", responseSnippet: "body", outcome: outcome)
    }
}

@Suite("Store contract")
struct StoreContractTests {
    // MARK: Nodes

    @Test("nodes: a store no runner listens on has no other nodes working on it", arguments: StoreEngineFixture.all)
    func noOtherNodes(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        #expect(try store.otherNodes() == 0)
    }

    // MARK: Ingest

    @Test("ingest: a replayed id is skipped, never a second row, never reset", arguments: StoreEngineFixture.all)
    func ingestDedupes(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let batch = (1...5).map { Rows.delivery($0) }
        #expect(try store.enqueue(batch, checkpoint: nil, nowMs: 1_000) == 5)
        let claimed = try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 1)
        try store.record([Rows.attempt(claimed[0], at: 1_000, outcome: .succeeded, status: 200)])
        // The same batch again, plus one new row, in one call: only the new row goes in.
        #expect(try store.enqueue(batch + [Rows.delivery(6)], checkpoint: nil, nowMs: 2_000) == 1)
        #expect(try store.list(DeliveryQuery(limit: 100)).count == 6)
        #expect(try store.detail(id: claimed[0].id)?.0.status == .succeeded)
        #expect(try store.counts()[.succeeded] == 1)
        #expect(try store.counts()[.pending] == 5)
    }

    @Test("ingest: a bad row stores nothing of its batch, checkpoint included", arguments: StoreEngineFixture.all)
    func ingestIsAtomic(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let bad = Rows.delivery(2, schedule: [])
        #expect(throws: DeliveryStoreError.self) {
            try store.enqueue([Rows.delivery(1), bad], checkpoint: (source: "file:a", offset: 10), nowMs: 1_000)
        }
        #expect(try store.list(DeliveryQuery()).isEmpty)
        #expect(try store.checkpoint(source: "file:a") == nil)
    }

    @Test("checkpoints: per source, moved with their batch, readable by another node", arguments: StoreEngineFixture.all)
    func checkpoints(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        #expect(try store.checkpoint(source: "file:a") == nil)
        try store.enqueue([Rows.delivery(1)], checkpoint: (source: "file:a", offset: 120), nowMs: 1_000)
        try store.enqueue([], checkpoint: (source: "file:b", offset: 7), nowMs: 1_000)
        try store.enqueue([Rows.delivery(1)], checkpoint: (source: "file:a", offset: 240), nowMs: 2_000)
        let other = try scope.open(node: "node-b")
        #expect(try other.checkpoint(source: "file:a") == 240)
        #expect(try other.checkpoint(source: "file:b") == 7)
        #expect(try other.checkpoint(source: "file:c") == nil)
    }

    // MARK: Claims

    @Test("claim: due rows of one sink, oldest due first, up to the limit, each once", arguments: StoreEngineFixture.all)
    func claim(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let other = (pipeline: "fulfillment", sink: "crm")
        try store.enqueue(
            [Rows.delivery(1), Rows.delivery(2), Rows.delivery(3, sink: other), Rows.delivery(4, schedule: [5_000])],
            checkpoint: nil, nowMs: 1_000)
        #expect(try store.nextDueMs(sinkKey: Rows.sink) == 1_000)
        let first = try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 1)
        #expect(first.map(\.eventID) == ["evt_1"])
        #expect(first.first?.attempt == 1)
        #expect(first.first?.body == Array(#"{"n":1}"#.utf8))
        #expect(first.first?.schedule == Rows.schedule)
        let rest = try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 10)
        #expect(rest.map(\.eventID) == ["evt_2"], "evt_4 is not due until 6000; evt_3 is another sink's")
        #expect(try store.nextDueMs(sinkKey: Rows.sink) == 6_000)
        #expect(try store.claimDue(sinkKey: Rows.sink, nowMs: 6_000, limit: 10).map(\.eventID) == ["evt_4"])
        #expect(try store.claimDue(sinkKey: Rows.sink, nowMs: 9_000, limit: 10).isEmpty)
        #expect(try store.nextDueMs(sinkKey: Rows.sink) == nil)
        #expect(try store.counts()[.inFlight] == 3)
    }

    @Test("claim: ordered deliveries go one at a time per key, in store order, across retries and nodes", arguments: StoreEngineFixture.all)
    func claimInKeyOrder(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let other = try scope.open(node: "node-b")
        func keyed(_ number: Int, _ key: String?) -> NewDelivery {
            var row = Rows.delivery(number)
            row.orderKey = key
            return row
        }
        // a1 a2 b1 a3 (none) b2, in that order.
        try store.enqueue(
            [keyed(1, "a"), keyed(2, "a"), keyed(3, "b"), keyed(4, "a"), keyed(5, nil), keyed(6, "b")], checkpoint: nil, nowMs: 1_000)
        // One claim takes the head of each key (and the row without one), never two of a key.
        let heads = try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 10)
        #expect(heads.map(\.eventID) == ["evt_1", "evt_3", "evt_5"])
        #expect(try store.nextDueMs(sinkKey: Rows.sink) == nil, "the followers wait for their heads, not for a time")
        #expect(try other.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 10).isEmpty, "nor does another node get them")
        // a1 fails and waits for its retry: a2 still waits; b1 succeeds: b2 may go, on any node.
        let a1 = heads[0], b1 = heads[1]
        try store.record([Rows.attempt(a1, at: 1_000, outcome: .retry(atMs: 61_000)), Rows.attempt(b1, at: 1_000, outcome: .succeeded, status: 200)])
        #expect(try store.nextDueMs(sinkKey: Rows.sink) == 1_000)
        #expect(try other.claimDue(sinkKey: Rows.sink, nowMs: 2_000, limit: 10).map(\.eventID) == ["evt_6"])
        #expect(try store.nextDueMs(sinkKey: Rows.sink) == 61_000, "a2 waits behind a1's retry")
        let retried = try store.claimDue(sinkKey: Rows.sink, nowMs: 61_000, limit: 10)
        #expect(retried.map(\.eventID) == ["evt_1"])
        // a1 finally fails: the line moves on, a2 then a3.
        try store.record([Rows.attempt(retried[0], at: 61_000, outcome: .failed)])
        let a2 = try store.claimDue(sinkKey: Rows.sink, nowMs: 61_000, limit: 10)
        #expect(a2.map(\.eventID) == ["evt_2"])
        // A restart (the claim put back) keeps the order: a2 again, not a3.
        #expect(try store.release(ids: a2.map(\.id)) == 1)
        let again = try other.claimDue(sinkKey: Rows.sink, nowMs: 61_000, limit: 10)
        #expect(again.map(\.eventID) == ["evt_2"])
        try other.record([Rows.attempt(again[0], at: 61_000, outcome: .succeeded, status: 200)])
        #expect(try store.claimDue(sinkKey: Rows.sink, nowMs: 61_000, limit: 10).map(\.eventID) == ["evt_4"])
    }

    @Test("ordered fast path: a key's head is stored claimed, and settling it claims the next of its key", arguments: StoreEngineFixture.all)
    func orderedFastPath(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let other = try scope.open(node: "node-b")
        func keyed(_ number: Int, _ key: String, schedule: [Int64] = Rows.schedule) -> NewDelivery {
            var row = Rows.delivery(number, schedule: schedule, createdAtMs: 1_000 + Int64(number))
            row.orderKey = key
            return row
        }
        // a1 a2 b1 c1, all offered for claiming but c1: a2 waits behind a1 in the same batch.
        let first = try store.enqueue([keyed(1, "a"), keyed(2, "a"), keyed(3, "b"), keyed(4, "c")], checkpoint: nil, nowMs: 1_000, claiming: [0, 1, 2])
        #expect(first.claimed.map(\.eventID) == ["evt_1", "evt_3"])
        // A later batch: a3 (first due two minutes on) waits behind a1 and a2 in the store, c2
        // behind c1 (pending), d1 is its key's head.
        let second = try store.enqueue(
            [keyed(5, "a", schedule: [120_000, 60_000]), keyed(6, "c"), keyed(7, "d")], checkpoint: nil, nowMs: 1_000, claiming: [1, 2])
        #expect(second.claimed.map(\.eventID) == ["evt_7"])
        // The claim that looks through the queue finds only c1: the other heads are in flight.
        let c1 = try other.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 10)
        #expect(c1.map(\.eventID) == ["evt_4"])
        // A retry settles nothing; b1 succeeding leaves b empty.
        let a1 = first.claimed[0], b1 = first.claimed[1]
        var advance = try store.record([Rows.attempt(a1, at: 1_000, outcome: .retry(atMs: 61_000))], advancingKeysAtMs: 2_000)
        #expect(advance.claimed.isEmpty && advance.waiting.isEmpty)
        advance = try store.record([Rows.attempt(b1, at: 1_000, outcome: .succeeded, status: 200)], advancingKeysAtMs: 2_000)
        #expect(advance.claimed.isEmpty && advance.waiting.isEmpty)
        #expect(try store.claimDue(sinkKey: Rows.sink, nowMs: 2_000, limit: 10).isEmpty, "a2 waits for a1's retry")
        // A replay of b1 (settled) before a new row of b: the new row is b's head.
        let replay = try store.enqueue([keyed(3, "b"), keyed(8, "b")], checkpoint: nil, nowMs: 2_000, claiming: [0, 1])
        #expect(replay.inserted == 1)
        #expect(replay.claimed.map(\.eventID) == ["evt_8"])
        // a1's retry fails for good: recording it claims a2 for this node, nobody else gets it.
        let retried = try store.claimDue(sinkKey: Rows.sink, nowMs: 61_000, limit: 10)
        #expect(retried.map(\.eventID) == ["evt_1"])
        advance = try store.record([Rows.attempt(retried[0], at: 61_000, outcome: .failed)], advancingKeysAtMs: 61_000)
        #expect(advance.claimed.map(\.delivery.eventID) == ["evt_2"])
        #expect(advance.claimed.map(\.createdAtMs) == [1_002])
        let a2 = try #require(advance.claimed.first).delivery
        #expect(a2.attempt == 1)
        #expect(try other.claimDue(sinkKey: Rows.sink, nowMs: 61_000, limit: 10).isEmpty, "a2 is in flight here; a3 waits for it")
        // c1 succeeds on node-b: c2 goes to node-b, in the same write.
        advance = try other.record([Rows.attempt(c1[0], at: 61_000, outcome: .succeeded, status: 200)], advancingKeysAtMs: 61_000)
        #expect(advance.claimed.map(\.delivery.eventID) == ["evt_6"])
        // a2 succeeds before a3 is due: a3 stays queued, its sink named, due when its schedule says.
        advance = try store.record([Rows.attempt(a2, at: 62_000, outcome: .succeeded, status: 200)], advancingKeysAtMs: 62_000)
        #expect(advance.claimed.isEmpty)
        #expect(advance.waiting.map(\.sink) == [Rows.sink.sink])
        #expect(try store.nextDueMs(sinkKey: Rows.sink) == 121_000)
        #expect(try store.claimDue(sinkKey: Rows.sink, nowMs: 121_000, limit: 10).map(\.eventID) == ["evt_5"])
        // Every claim above moved the aggregates as a scan of the rows sees them.
        #expect(try store.stats(sinceMs: nil) == Self.scannedStats(store, sinceMs: nil))
        #expect(try store.counts()[.inFlight] == 4, "a3, b2, c2 and d1")
    }

    @Test("probe claim: the waiting delivery due first, due or not, one per call, heads of keys only, inside the window", arguments: StoreEngineFixture.all)
    func claimProbe(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let other = try scope.open(node: "node-b")
        var keyed = Rows.delivery(4, schedule: [90_000], createdAtMs: 200)
        keyed.orderKey = "k"
        var follower = Rows.delivery(5, schedule: [1_000], createdAtMs: 200)
        follower.orderKey = "k"
        // Due at 61,000 (evt_1, after a retry), 31,000 (evt_2), 91,000 (evt_4, then its follower
        // evt_5 at 2,000); evt_3 is another sink's.
        try store.enqueue(
            [Rows.delivery(1), Rows.delivery(2, schedule: [30_000]), Rows.delivery(3, sink: (pipeline: "fulfillment", sink: "crm")), keyed, follower],
            checkpoint: nil, nowMs: 1_000)
        let first = try #require(try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 1).first)
        try store.record([Rows.attempt(first, at: 1_000, outcome: .retry(atMs: 61_000))])
        #expect(try store.claimDue(sinkKey: Rows.sink, nowMs: 2_000, limit: 10).isEmpty, "nothing is due at 2,000")
        // A probe at 2,000 takes evt_2 (due first), leased like any claim; then evt_1; then the
        // head of key k, never its follower, though the follower's time came first.
        let probe = try #require(try store.claimProbe(sinkKey: Rows.sink, nowMs: 2_000, window: .all))
        #expect(probe.eventID == "evt_2" && probe.attempt == 1 && probe.body == Array(#"{"n":2}"#.utf8))
        #expect(try store.detail(id: probe.id)?.0.status == .inFlight)
        #expect(try other.claimProbe(sinkKey: Rows.sink, nowMs: 2_000, window: .all)?.eventID == "evt_1")
        #expect(try store.claimProbe(sinkKey: Rows.sink, nowMs: 2_000, window: CreationWindow(beforeMs: 150)) == nil, "evt_4 was created at 200")
        #expect(try store.claimProbe(sinkKey: Rows.sink, nowMs: 2_000, window: .all)?.eventID == "evt_4")
        #expect(try store.claimProbe(sinkKey: Rows.sink, nowMs: 2_000, window: .all) == nil, "evt_5 waits for its key's head")
        #expect(try store.release(ids: [probe.id]) == 1)
        #expect(try store.detail(id: probe.id)?.0.nextAttemptMs == 31_000, "a released probe is due as it was")
    }

    @Test("claim: only deliveries created inside the window", arguments: StoreEngineFixture.all)
    func claimWindow(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        try store.enqueue([Rows.delivery(1, createdAtMs: 100), Rows.delivery(2, createdAtMs: 200)], checkpoint: nil, nowMs: 1_000)
        let window = CreationWindow(fromMs: 150)
        #expect(try store.nextDueMs(sinkKey: Rows.sink, window: window) == 1_000)
        #expect(try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 10, window: window).map(\.eventID) == ["evt_2"])
        #expect(try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 10, window: CreationWindow(beforeMs: 150)).map(\.eventID) == ["evt_1"])
    }

    @Test("sinks with due work: each sink once, only with a due row inside the window, any node's", arguments: StoreEngineFixture.all)
    func sinksWithDueWork(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        func names(_ sinks: [(pipeline: String, sink: String)]) -> [String] { sinks.map { "\($0.pipeline)/\($0.sink)" }.sorted() }
        #expect(try store.sinksWithDueWork(nowMs: 1_000, window: .all).isEmpty)
        // Several sinks of one pipeline and of others, some with deep backlogs, one due later,
        // one whose rows are all settled or in flight.
        var rows: [NewDelivery] = []
        for number in 1...40 { rows.append(Rows.delivery(number, sink: (pipeline: "a", sink: "s\(number % 4)"))) }
        rows.append(Rows.delivery(41, sink: (pipeline: "b", sink: "later"), schedule: [50_000]))
        rows.append(Rows.delivery(42, sink: (pipeline: "c", sink: "busy")))
        rows.append(Rows.delivery(43, sink: (pipeline: "d", sink: "new"), createdAtMs: 5_000))
        try store.enqueue(rows, checkpoint: nil, nowMs: 1_000)
        #expect(try store.claimDue(sinkKey: (pipeline: "c", sink: "busy"), nowMs: 1_000, limit: 1).count == 1)
        let backlog = ["a/s0", "a/s1", "a/s2", "a/s3"]
        #expect(try names(store.sinksWithDueWork(nowMs: 1_000, window: .all)) == backlog + ["d/new"])
        #expect(try names(store.sinksWithDueWork(nowMs: 1_000, window: CreationWindow(fromMs: 2_000))) == ["d/new"])
        #expect(try names(store.sinksWithDueWork(nowMs: 1_000, window: CreationWindow(beforeMs: 2_000))) == backlog)
        #expect(try names(store.sinksWithDueWork(nowMs: 51_000, window: .all)) == backlog + ["b/later", "d/new"])
        // Another node's claims and retries count the same: a retry due later drops its sink
        // until then.
        let other = try scope.open(node: "node-b")
        let claimed = try other.claimDue(sinkKey: (pipeline: "d", sink: "new"), nowMs: 1_000, limit: 1)
        try other.record([Rows.attempt(claimed[0], at: 1_000, outcome: .retry(atMs: 9_000))])
        #expect(try names(store.sinksWithDueWork(nowMs: 7_000, window: .all)) == backlog)
        #expect(try names(store.sinksWithDueWork(nowMs: 9_000, window: .all)) == backlog + ["d/new"])
    }

    @Test("enqueue may store rows already claimed by this node; nobody claims them again", arguments: StoreEngineFixture.all)
    func enqueueClaimed(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let rows = [Rows.delivery(1), Rows.delivery(2), Rows.delivery(3, schedule: [60_000])]
        let stored = try store.enqueue(rows, checkpoint: nil, nowMs: 1_000, claiming: [0, 2])
        #expect(stored.inserted == 3)
        #expect(stored.claimed.map(\.eventID) == ["evt_1"], "evt_3 is not due at once, so it is not claimed")
        let other = try scope.open(node: "node-b")
        #expect(try other.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 10).map(\.eventID) == ["evt_2"])
        let replay = try store.enqueue(rows, checkpoint: nil, nowMs: 2_000, claiming: [0, 1])
        #expect(replay.inserted == 0)
        #expect(replay.claimed.isEmpty, "a replayed id is not stored again, so not claimed either")
    }

    // MARK: Leases

    @Test("leases: a claimed delivery is another node's only once its lease ran out", arguments: StoreEngineFixture.all)
    func leases(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let a = try scope.open(node: "node-a", leaseMs: 10_000)
        let b = try scope.open(node: "node-b", leaseMs: 10_000)
        try a.enqueue([Rows.delivery(1), Rows.delivery(2)], checkpoint: nil, nowMs: 1_000)
        let held = try a.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 2)
        #expect(held.count == 2)
        #expect(try a.markStarted(ids: held.map(\.id)).isEmpty, "A sends both")
        #expect(try b.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 10).isEmpty)
        // Lease until 11000. Not expired at 10999: nothing to reclaim.
        #expect(try b.reclaimExpiredLeases(nowMs: 10_999) == 0)
        #expect(try b.claimDue(sinkKey: Rows.sink, nowMs: 10_999, limit: 10).isEmpty)
        // A renews evt_1 at 9000 (until 19000); evt_2 runs out at 11000.
        #expect(try a.renewLeases(ids: [held[0].id], nowMs: 9_000).isEmpty)
        #expect(try b.renewLeases(ids: [held[0].id], nowMs: 9_000) == [held[0].id], "only the holder renews")
        #expect(try b.reclaimExpiredLeases(nowMs: 12_000) == 1)
        let taken = try b.claimDue(sinkKey: Rows.sink, nowMs: 12_000, limit: 10)
        #expect(taken.map(\.id) == [held[1].id])
        #expect(taken.first?.attempt == 2, "the attempt A may have made counts: numbers never repeat")
        #expect(try a.renewLeases(ids: [held[1].id], nowMs: 12_000) == [held[1].id], "A learns it lost evt_2")
        // The reclaimed attempt is in the log, made by the node that held the lease.
        let log = try #require(try b.detail(id: held[1].id)).1
        #expect(log.map(\.attempt) == [1])
        #expect(log.first?.errorClass == AttemptRecord.interruptedErrorClass)
        #expect(log.first?.node == "node-a")
        // After 19000 the renewed lease runs out too.
        #expect(try b.reclaimExpiredLeases(nowMs: 18_999) == 0)
        #expect(try b.reclaimExpiredLeases(nowMs: 19_001) == 1)
    }

    @Test("leases: a late outcome from a node whose lease ran out is logged but leaves the delivery to its new holder", arguments: StoreEngineFixture.all)
    func lateOutcome(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let a = try scope.open(node: "node-a", leaseMs: 1_000)
        let b = try scope.open(node: "node-b", leaseMs: 1_000)
        try a.enqueue([Rows.delivery(1)], checkpoint: nil, nowMs: 1_000)
        let first = try #require(try a.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 1).first)
        #expect(try a.markStarted(ids: [first.id]).isEmpty)
        #expect(try b.reclaimExpiredLeases(nowMs: 3_000) == 1)
        let second = try #require(try b.claimDue(sinkKey: Rows.sink, nowMs: 3_000, limit: 1).first)
        try a.record([Rows.attempt(first, at: 1_000, outcome: .failed, status: 500)])
        let (summary, log) = try #require(try b.detail(id: first.id))
        #expect(summary.status == .inFlight, "node-b holds it now")
        #expect(log.map(\.node) == ["node-a"])
        #expect(log.first?.httpStatus == 500, "A's real outcome replaces the placeholder of its attempt")
        try b.record([Rows.attempt(second, at: 3_000, outcome: .succeeded, status: 200)])
        let after = try #require(try a.detail(id: first.id))
        #expect(after.0.status == .succeeded)
        #expect(after.1.map(\.node) == ["node-a", "node-b"])
    }

    @Test("release puts back this node's unstarted claims, not another node's", arguments: StoreEngineFixture.all)
    func release(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let a = try scope.open(node: "node-a")
        let b = try scope.open(node: "node-b")
        try a.enqueue([Rows.delivery(1), Rows.delivery(2)], checkpoint: nil, nowMs: 1_000)
        let held = try a.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 2)
        #expect(try b.release(ids: held.map(\.id)) == 0)
        #expect(try a.release(ids: [held[0].id]) == 1)
        let again = try b.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 10)
        #expect(again.map(\.id) == [held[0].id])
        #expect(again.first?.attempt == 1, "a release logs no attempt")
    }

    @Test("recovery: deliveries a crash left in flight come back with an interrupted attempt", arguments: StoreEngineFixture.all)
    func recovery(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let crashed = try scope.open(node: "node-a")
        try crashed.enqueue([Rows.delivery(1)], checkpoint: nil, nowMs: 1_000)
        let held = try crashed.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 1)
        #expect(try crashed.markStarted(ids: held.map(\.id)).isEmpty)
        let restarted = try scope.open(node: "node-a")
        #expect(try restarted.recoverInFlight() == 1)
        let again = try restarted.claimDue(sinkKey: Rows.sink, nowMs: 2_000, limit: 1)
        #expect(again.map(\.id) == held.map(\.id))
        #expect(again.first?.attempt == 2)
        let log = try #require(try restarted.detail(id: held[0].id)).1
        #expect(log.first?.errorClass == AttemptRecord.interruptedErrorClass)
        #expect(log.first?.node == "node-a")
    }

    @Test(
        "started marks: a reclaim or a recovery logs an interrupted attempt only for deliveries whose attempt was marked started",
        arguments: StoreEngineFixture.all)
    func startedMarks(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let a = try scope.open(node: "node-a", leaseMs: 1_000)
        let b = try scope.open(node: "node-b", leaseMs: 1_000)
        try a.enqueue((1...6).map { Rows.delivery($0) }, checkpoint: nil, nowMs: 1_000)
        // evt_1 already failed once and is due again; evt_7 is handed over by ingest, claimed.
        let first = try a.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 1)
        try a.record([Rows.attempt(first[0], at: 1_000, outcome: .retry(atMs: 1_500))])
        let fresh = try a.enqueue([Rows.delivery(7)], checkpoint: nil, nowMs: 2_000, claiming: [0]).claimed
        #expect(fresh.count == 1)
        let held = try a.claimDue(sinkKey: Rows.sink, nowMs: 2_000, limit: 10) + fresh
        #expect(Set(held.map(\.eventID)) == Set((1...7).map { "evt_\($0)" }))
        // A starts three of seven (evt_1's second attempt among them), then dies.
        let started = held.filter { ["evt_1", "evt_3", "evt_7"].contains($0.eventID) }.map(\.id)
        #expect(held.first { $0.eventID == "evt_1" }?.attempt == 2)
        #expect(try a.markStarted(ids: started).isEmpty)
        let unstarted = try #require(held.first { !started.contains($0.id) })
        #expect(try b.markStarted(ids: [unstarted.id]) == [unstarted.id], "only the holder marks")
        #expect(try b.reclaimExpiredLeases(nowMs: 4_000) == 7, "every expired claim goes back, started or not")
        for delivery in held {
            let (summary, log) = try #require(try b.detail(id: delivery.id))
            let interrupted = log.filter { $0.errorClass == AttemptRecord.interruptedErrorClass }
            if started.contains(delivery.id) {
                #expect(interrupted.map(\.attempt) == [delivery.attempt], "\(delivery.eventID): its attempt may have been sent")
                #expect(interrupted.first?.node == "node-a")
                #expect(summary.attempts == delivery.attempt)
                #expect(summary.status == .retrying)
            } else {
                #expect(interrupted.isEmpty, "\(delivery.eventID) was claimed, never started: no attempt")
                #expect(summary.attempts == delivery.attempt - 1, "\(delivery.eventID): its count is unchanged")
                #expect(summary.status == (delivery.attempt > 1 ? .retrying : .pending))
            }
        }
        #expect(try b.counts()[.inFlight] == 0)
        #expect(try b.stats(sinceMs: nil).first?.retrying == 3, "the rollups move with the rows")
        // B takes all seven: the started ones carry the next number, the others the same one.
        let taken = try b.claimDue(sinkKey: Rows.sink, nowMs: 4_000, limit: 10)
        #expect(Dictionary(uniqueKeysWithValues: taken.map { ($0.id, $0.attempt) })
            == Dictionary(uniqueKeysWithValues: held.map { ($0.id, started.contains($0.id) ? $0.attempt + 1 : $0.attempt) }))
        // A mark does not outlive the claim it was made under: released, reclaimed, recovered.
        #expect(try b.markStarted(ids: [taken[0].id, taken[1].id]).isEmpty)
        #expect(try b.release(ids: [taken[0].id, taken[1].id]) == 2)
        let again = try b.claimDue(sinkKey: Rows.sink, nowMs: 4_000, limit: 2)
        #expect(Set(again.map(\.id)) == Set([taken[0].id, taken[1].id]))
        let restarted = try scope.open(node: "node-b", leaseMs: 1_000)
        #expect(try restarted.recoverInFlight() == 7)
        for delivery in again {
            let log = try #require(try restarted.detail(id: delivery.id)).1
            #expect(log.filter { $0.attempt == delivery.attempt }.isEmpty, "a released mark does not count after a crash")
        }
        // A recorded attempt leaves its mark behind: the next claim starts unmarked again.
        let last = try restarted.claimDue(sinkKey: Rows.sink, nowMs: 5_000, limit: 1)
        #expect(try restarted.markStarted(ids: last.map(\.id)).isEmpty)
        try restarted.record([Rows.attempt(last[0], at: 5_000, outcome: .retry(atMs: 5_000))])
        let next = try restarted.claimDue(sinkKey: Rows.sink, nowMs: 5_000, limit: 10).filter { $0.id == last[0].id }
        #expect(next.map(\.attempt) == [last[0].attempt + 1])
        #expect(try scope.open(node: "node-b", leaseMs: 1_000).recoverInFlight() == 7)
        let log = try #require(try restarted.detail(id: last[0].id)).1
        #expect(log.map(\.attempt).filter { $0 > last[0].attempt }.isEmpty, "attempt \(last[0].attempt + 1) never started")
    }

    // MARK: Attempts

    @Test("attempt records: outcome, timeline and the node that made each", arguments: StoreEngineFixture.all)
    func attempts(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let a = try scope.open(node: "node-a")
        let b = try scope.open(node: "node-b")
        try a.enqueue([Rows.delivery(1)], checkpoint: nil, nowMs: 1_000)
        let first = try #require(try a.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 1).first)
        try a.record([Rows.attempt(first, at: 1_000, outcome: .retry(atMs: 61_000))])
        let second = try #require(try b.claimDue(sinkKey: Rows.sink, nowMs: 61_000, limit: 1).first)
        #expect(second.attempt == 2)
        try b.record([Rows.attempt(second, at: 61_000, outcome: .succeeded, status: 200)])
        let (summary, log) = try #require(try a.detail(id: first.id))
        #expect(summary.status == .succeeded)
        #expect(summary.attempts == 2)
        #expect(summary.lastError == nil)
        #expect(summary.lastHTTPStatus == 200)
        #expect(log.map(\.attempt) == [1, 2])
        #expect(log.map(\.node) == ["node-a", "node-b"])
        #expect(log[0].outcome == .retry(atMs: 61_000))
        #expect(log[0].httpStatus == 500)
        #expect(log[0].responseSnippet == "body")
        #expect(log[0].startedAtMs == 1_000)
        #expect(log[0].durationMs == 7)
        #expect(log[1].outcome == .succeeded)
    }

    @Test("attempt records: an unknown id records nothing of the batch", arguments: StoreEngineFixture.all)
    func unknownAttempt(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        try store.enqueue([Rows.delivery(1)], checkpoint: nil, nowMs: 1_000)
        let claimed = try #require(try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 1).first)
        var stranger = Rows.attempt(claimed, at: 1_000, outcome: .failed)
        stranger.deliveryID = Rows.delivery(99).id
        #expect {
            try store.record([Rows.attempt(claimed, at: 1_000, outcome: .succeeded, status: 200), stranger])
        } throws: { error in
            (error as? DeliveryStoreError)?.kind == .unknownDelivery(id: stranger.deliveryID)
        }
        #expect(try store.detail(id: claimed.id)?.1.isEmpty == true)
        #expect(try store.detail(id: claimed.id)?.0.status == .inFlight)
    }

    @Test("retries: due again at the time the outcome named, not before", arguments: StoreEngineFixture.all)
    func retriesDue(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        try store.enqueue([Rows.delivery(1)], checkpoint: nil, nowMs: 1_000)
        let first = try #require(try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 1).first)
        try store.record([Rows.attempt(first, at: 1_000, outcome: .retry(atMs: 61_000))])
        #expect(try store.counts()[.retrying] == 1)
        #expect(try store.nextDueMs(sinkKey: Rows.sink) == 61_000)
        #expect(try store.detail(id: first.id)?.0.nextAttemptMs == 61_000)
        #expect(try store.claimDue(sinkKey: Rows.sink, nowMs: 60_999, limit: 1).isEmpty)
        let second = try #require(try store.claimDue(sinkKey: Rows.sink, nowMs: 61_000, limit: 1).first)
        #expect(second.attempt == 2)
        #expect(second.scheduleOffset == 0)
        try store.record([Rows.attempt(second, at: 61_000, outcome: .failed)])
        #expect(try store.counts()[.failed] == 1)
        #expect(try store.nextDueMs(sinkKey: Rows.sink) == nil)
    }

    // MARK: Resend

    @Test("resend: queued again with the same id, the count going on and the schedule restarting", arguments: StoreEngineFixture.all)
    func resend(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        try store.enqueue([Rows.delivery(1), Rows.delivery(2)], checkpoint: nil, nowMs: 1_000)
        let claimed = try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 2)
        try store.record([Rows.attempt(claimed[0], at: 1_000, outcome: .failed)])
        let unknown = Rows.delivery(3).id
        let result = try store.resendReporting(ids: [claimed[0].id, claimed[1].id, unknown, claimed[0].id], nowMs: 5_000)
        #expect(result == ResendResult(queued: [claimed[0].id], inFlight: [claimed[1].id], unknown: [unknown]))
        let again = try #require(try store.claimDue(sinkKey: Rows.sink, nowMs: 5_000, limit: 10).first)
        #expect(again.id == claimed[0].id)
        #expect(again.attempt == 2)
        #expect(again.scheduleOffset == 1)
    }

    @Test("resend --failed: every failed delivery matching the filter, nothing else", arguments: StoreEngineFixture.all)
    func resendFailed(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let crm = (pipeline: "fulfillment", sink: "crm")
        try store.enqueue([Rows.delivery(1), Rows.delivery(2), Rows.delivery(3, sink: crm)], checkpoint: nil, nowMs: 1_000)
        let warehouse = try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 2)
        let other = try store.claimDue(sinkKey: crm, nowMs: 1_000, limit: 1)
        try store.record([
            Rows.attempt(warehouse[0], at: 1_000, outcome: .failed), Rows.attempt(warehouse[1], at: 1_000, outcome: .succeeded, status: 200),
            Rows.attempt(other[0], at: 1_000, outcome: .failed),
        ])
        #expect(try store.resend(matching: DeliveryQuery(sink: "warehouse"), nowMs: 2_000) == 1)
        #expect(try store.list(DeliveryQuery(status: .pending)).map(\.id) == [warehouse[0].id])
        #expect(try store.list(DeliveryQuery(status: .failed)).map(\.id) == [other[0].id])
    }

    // MARK: Reading

    @Test("list: newest first, filtered, limited", arguments: StoreEngineFixture.all)
    func list(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let crm = (pipeline: "loyalty", sink: "crm")
        try store.enqueue([Rows.delivery(1), Rows.delivery(2), Rows.delivery(3, sink: crm)], checkpoint: nil, nowMs: 1_000)
        #expect(try store.list(DeliveryQuery()).map(\.eventID) == ["evt_3", "evt_2", "evt_1"])
        #expect(try store.list(DeliveryQuery(limit: 2)).map(\.eventID) == ["evt_3", "evt_2"])
        #expect(try store.list(DeliveryQuery(pipeline: "loyalty")).map(\.eventID) == ["evt_3"])
        #expect(try store.list(DeliveryQuery(sink: "warehouse")).map(\.eventID) == ["evt_2", "evt_1"])
        #expect(try store.list(DeliveryQuery(status: .failed)).isEmpty)
        #expect(try store.detail(id: Rows.delivery(4).id) == nil)
    }

    @Test("stats, counts and gauges add up per sink and status", arguments: StoreEngineFixture.all)
    func stats(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        try store.enqueue((1...4).map { Rows.delivery($0) }, checkpoint: nil, nowMs: 1_000)
        let claimed = try store.claimDue(sinkKey: Rows.sink, nowMs: 1_000, limit: 3)
        try store.record([
            Rows.attempt(claimed[0], at: 1_000, outcome: .succeeded, status: 200),
            Rows.attempt(claimed[1], at: 1_000, outcome: .failed),
        ])
        let counts = try store.counts()
        #expect(counts == [.pending: 1, .retrying: 0, .inFlight: 1, .succeeded: 1, .failed: 1])
        let status = try store.status()
        #expect(status.counts == counts)
        #expect(status.total == 4)
        #expect(status.schemaVersion == engine.schemaVersion)
        #expect(status.nodeID == "node-a")
        let rows = try store.stats(sinceMs: nil)
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect((row.pipeline, row.sink) == (Rows.sink.pipeline, Rows.sink.sink))
        #expect((row.total, row.succeeded, row.failed, row.pending, row.inFlight) == (4, 1, 1, 1, 1))
        #expect(row.attemptCount == 2)
        #expect(row.successRate == 0.5)
        #expect(row.latencyP50Ms == 7)
        #expect(try store.outboxGauges() == [OutboxGauge(pipeline: Rows.sink.pipeline, sink: Rows.sink.sink, waiting: 1, failed: 1)])
    }

    @Test(
        "stats and the charts read maintained aggregates that equal a scan of the rows, through retries, failures, resends, releases, reclaims and work in flight",
        arguments: StoreEngineFixture.all)
    func aggregatesMatchTheRows(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open(leaseMs: 600_000)
        let other = (pipeline: "loyalty", sink: "crm")
        // Not on a minute or an hour: every window below has raw, minute and hour parts.
        let t0: Int64 = 10 * 3_600_000 + 17_345
        try store.enqueue((1...10).map { Rows.delivery($0) } + (21...30).map { Rows.delivery($0, sink: other) }, checkpoint: nil, nowMs: t0)
        func record(_ claimed: ClaimedDelivery, at start: Int64, _ duration: Int64, _ outcome: AttemptOutcome, via writer: (any DeliveryStore)? = nil) throws {
            try (writer ?? store).record([
                AttemptRecord(
                    deliveryID: claimed.id, attempt: claimed.attempt, startedAtMs: start, durationMs: duration,
                    httpStatus: outcome == .succeeded ? 200 : 503, errorMessage: "x", outcome: outcome)
            ])
        }
        // First attempts on the main sink: 5 succeed, 3 will retry, 2 fail (durations 3 ms … 2.9 s).
        let first = try store.claimDue(sinkKey: Rows.sink, nowMs: t0 + 1_000, limit: 10)
        for (index, claimed) in first.enumerated() {
            let outcome: AttemptOutcome = index < 5 ? .succeeded : index < 8 ? .retry(atMs: t0 + 61_000) : .failed
            try record(claimed, at: t0 + 1_000 + Int64(index) * 13_000, Int64(3 + index * index * 37), outcome)
        }
        // Two hours on, the other sink: 6 succeed (one recorded through a second connection,
        // which has to look the row up), 1 stays in flight, 1 is released unstarted.
        let second = try store.claimDue(sinkKey: other, nowMs: t0 + 7_200_000, limit: 8)
        let secondWriter = try scope.open(leaseMs: 600_000)
        for (index, claimed) in second.prefix(6).enumerated() {
            try record(claimed, at: t0 + 7_200_000 + Int64(index) * 1_000, 120 + Int64(index), .succeeded, via: index == 0 ? secondWriter : nil)
        }
        #expect(try store.release(ids: [second[7].id]) == 1)
        // Three hours on, the retries: 2 succeed, 1 fails for good.
        let retries = try store.claimDue(sinkKey: Rows.sink, nowMs: t0 + 10_800_000, limit: 10)
        #expect(retries.count == 3)
        try record(retries[0], at: t0 + 10_800_000, 450, .succeeded)
        try record(retries[1], at: t0 + 10_800_500, 51, .succeeded)
        try record(retries[2], at: t0 + 10_801_000, 5_000, .failed)
        // Resends: one failed delivery by id, then (after more deliveries came in) every failed
        // one of the main sink.
        #expect(try store.resend(ids: [first[8].id], nowMs: t0 + 10_900_000) == [first[8].id])
        try store.enqueue((11...15).map { Rows.delivery($0) }, checkpoint: nil, nowMs: t0 + 12_000_000)
        #expect(try store.resend(matching: DeliveryQuery(pipeline: Rows.sink.pipeline, sink: Rows.sink.sink), nowMs: t0 + 14_400_123) == 2)
        // A resent delivery sent again and failed once more; a lease that ran out taken back.
        let again = try store.claimDue(sinkKey: Rows.sink, nowMs: t0 + 14_500_000, limit: 1)
        try record(again[0], at: t0 + 14_500_000, 77, .retry(atMs: t0 + 20_000_000))
        let lapsed = try scope.open(node: "node-b", leaseMs: 1_000)
        _ = try lapsed.claimDue(sinkKey: other, nowMs: t0 + 15_000_000, limit: 1)
        #expect(try store.reclaimExpiredLeases(nowMs: t0 + 15_100_000) == 2)
        #expect(try store.claimDue(sinkKey: other, nowMs: t0 + 15_200_000, limit: 1).count == 1)

        for since in [nil, t0 - 1, t0, t0 + 1_500, t0 + 59_999, t0 + 3_600_000, t0 + 7_200_500, t0 + 9_000_007, t0 + 10_860_000, t0 + 14_400_123, t0 + 99_000_000] {
            #expect(try store.stats(sinceMs: since) == Self.scannedStats(store, sinceMs: since), "since \(since.map(String.init) ?? "nil")")
        }
        let all = try #require(try store.stats(sinceMs: nil).first { $0.sink == Rows.sink.sink })
        #expect((all.total, all.pending, all.retrying, all.succeeded, all.failed) == (15, 7, 1, 7, 0))
        #expect(all.attemptCount == 14)
        for (since, until, width) in [
            (t0 - 1_800_000, t0 + 18_000_000, Int64(600_000)), (t0 - 17_345, t0 + 17_982_655, Int64(3_600_000)),
            (t0 - 17_345, t0 + 3_582_655, Int64(60_000)), (t0 + 500, t0 + 15_000_000, Int64(1_234_567)),
        ] {
            #expect(try store.series(sinceMs: since, untilMs: until, bucketMs: width) == Self.scannedSeries(store, since, until, width))
        }
    }

    @Test("aggregates: recording the same attempt number again replaces it, never counts it twice", arguments: StoreEngineFixture.all)
    func reRecordedAttemptCountsOnce(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let t0: Int64 = 5 * 3_600_000
        try store.enqueue((1...3).map { Rows.delivery($0) }, checkpoint: nil, nowMs: t0)
        let claimed = try store.claimDue(sinkKey: Rows.sink, nowMs: t0, limit: 3)
        func attempt(_ index: Int, at start: Int64, _ duration: Int64, _ outcome: AttemptOutcome) -> AttemptRecord {
            AttemptRecord(
                deliveryID: claimed[index].id, attempt: 1, startedAtMs: start, durationMs: duration,
                httpStatus: outcome == .succeeded ? 200 : 503, errorMessage: "x", outcome: outcome)
        }
        try store.record([attempt(0, at: t0 + 1_000, 40, .retry(atMs: t0 + 600_000)), attempt(1, at: t0 + 1_000, 9, .succeeded)])
        // Attempt 1 of the first delivery written again, in a later minute with another outcome,
        // once in a batch of its own and once beside a new attempt; the second delivery's twice.
        try store.record([attempt(0, at: t0 + 90_000, 700, .succeeded)])
        try store.record([attempt(1, at: t0 + 1_000, 9, .succeeded), attempt(2, at: t0 + 2_000, 15, .failed)])
        try store.record([attempt(1, at: t0 + 1_000, 9, .succeeded)])
        let stats = try #require(try store.stats(sinceMs: nil).first)
        #expect(stats.attemptCount == 3)
        #expect((stats.succeeded, stats.failed, stats.attempted) == (2, 1, 3))
        for since in [nil, t0, t0 + 60_000, t0 + 90_000] {
            #expect(try store.stats(sinceMs: since) == Self.scannedStats(store, sinceMs: since), "since \(since.map(String.init) ?? "nil")")
        }
        let series = try store.series(sinceMs: t0, untilMs: t0 + 180_000, bucketMs: 60_000)
        #expect(series == (try Self.scannedSeries(store, t0, t0 + 180_000, 60_000)))
        #expect(series.map(\.succeeded) == [1, 1, 0])
        #expect(series.map(\.retried) == [0, 0, 0])
    }

    /// What `stats` must say, from the rows themselves: the deliveries updated since `sinceMs`
    /// by status, and the attempts started since then with their latency in the histogram.
    private static func scannedStats(_ store: any DeliveryStore, sinceMs: Int64?) throws -> [SinkStats] {
        var bySink: [String: (deliveries: [DeliverySummary], latency: LatencyHistogram)] = [:]
        for summary in try store.list(DeliveryQuery(sinceMs: sinceMs, limit: 10_000)) {
            bySink[summary.pipeline + "/" + summary.sink, default: ([], LatencyHistogram())].deliveries.append(summary)
        }
        for summary in try store.list(DeliveryQuery(limit: 10_000)) {
            for attempt in try #require(try store.detail(id: summary.id)).1 where attempt.startedAtMs >= sinceMs ?? .min {
                bySink[summary.pipeline + "/" + summary.sink]?.latency.add(durationMs: attempt.durationMs)
            }
        }
        return bySink.sorted { $0.key < $1.key }.map { _, sink in
            let rows = sink.deliveries
            func count(_ status: DeliveryStatus) -> Int { rows.filter { $0.status == status }.count }
            let (succeeded, failed) = (count(.succeeded), count(.failed))
            let attempted = rows.filter { $0.attempts >= 1 }.count
            let retried = rows.filter { $0.attempts > 1 }.count
            return SinkStats(
                pipeline: rows[0].pipeline, sink: rows[0].sink, total: rows.count, succeeded: succeeded, failed: failed,
                pending: count(.pending), retrying: count(.retrying), inFlight: count(.inFlight), attempted: attempted,
                retried: retried, attemptCount: Int(sink.latency.total),
                successRate: succeeded + failed > 0 ? Double(succeeded) / Double(succeeded + failed) : nil,
                retryRate: attempted > 0 ? Double(retried) / Double(attempted) : nil,
                latencyP50Ms: sink.latency.percentile(50), latencyP95Ms: sink.latency.percentile(95),
                latencyP99Ms: sink.latency.percentile(99))
        }
    }

    /// What `series` must say, from the attempt log itself.
    private static func scannedSeries(_ store: any DeliveryStore, _ since: Int64, _ until: Int64, _ width: Int64) throws -> [SeriesBucket] {
        let count = Int((until - since + width - 1) / width)
        var buckets = (0..<count).map { SeriesBucket(startMs: since + Int64($0) * width) }
        var latency = [LatencyHistogram](repeating: LatencyHistogram(), count: count)
        for summary in try store.list(DeliveryQuery(limit: 10_000)) {
            for attempt in try #require(try store.detail(id: summary.id)).1 where attempt.startedAtMs >= since && attempt.startedAtMs < until {
                let slot = Int((attempt.startedAtMs - since) / width)
                switch attempt.outcome {
                case .succeeded: buckets[slot].succeeded += 1
                case .retry: buckets[slot].retried += 1
                case .failed: buckets[slot].failed += 1
                }
                latency[slot].add(durationMs: attempt.durationMs)
            }
        }
        for slot in buckets.indices {
            buckets[slot].latencyP50Ms = latency[slot].percentile(50)
            buckets[slot].latencyP95Ms = latency[slot].percentile(95)
        }
        return buckets
    }

    // MARK: Schema

    // MARK: Sink health

    @Test("sink states: compare-and-set by version, one winner among nodes, kept for every node", arguments: StoreEngineFixture.all)
    func sinkStatesCompareAndSet(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let other = try scope.open(node: "node-b")
        #expect(try store.sinkStates().isEmpty)
        #expect(try store.sinkState(pipeline: "fulfillment", sink: "warehouse").status == .healthy)
        var paused = SinkState(
            pipeline: "fulfillment", sink: "warehouse", status: .paused, frozenSinceMs: 5_000, changedAtMs: 5_000,
            nextProbeMs: 35_000, probeIntervalMs: 30_000, consecutiveFailures: 10, failingSinceMs: 1_000, reason: "10 failed")
        let first = try store.writeSinkState(paused, expectedVersion: 0, nowMs: 5_000)
        #expect(first.written && first.current.version == 1)
        // Another node making the same transition from the same version loses and reads the winner.
        paused.reason = "node b"
        let lost = try other.writeSinkState(paused, expectedVersion: 0, nowMs: 5_001)
        #expect(!lost.written)
        #expect(lost.current.reason == "10 failed" && lost.current.version == 1)
        let read = try other.sinkStates()
        #expect(read.count == 1)
        #expect(read.first?.status == .paused && read.first?.nextProbeMs == 35_000 && read.first?.consecutiveFailures == 10)
        #expect(read.first?.failingSinceMs == 1_000 && read.first?.announced == true)
        // Disabling by hand goes through whatever version is stored; enabling again too.
        let (before, after) = try other.setSinkEnabled(pipeline: "fulfillment", sink: "warehouse", enabled: false, nowMs: 6_000, by: "test")
        #expect(before.status == .paused && after.status == .disabled && after.version == 2 && !after.announced)
        #expect(after.frozenSinceMs == 5_000, "still frozen since the pause")
        #expect(try store.setSinkEnabled(pipeline: "fulfillment", sink: "warehouse", enabled: false, nowMs: 7_000, by: "test").after.version == 2)
        let enabled = try store.setSinkEnabled(pipeline: "fulfillment", sink: "warehouse", enabled: true, nowMs: 8_000, by: "test").after
        #expect(enabled.status == .healthy && enabled.consecutiveFailures == 0 && enabled.version == 3)
    }

    @Test("sink states: back to healthy moves waiting due times on by the time frozen, and nothing else", arguments: StoreEngineFixture.all)
    func sinkResumeFreezesSchedules(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        let store = try scope.open()
        let otherSink = (pipeline: "fulfillment", sink: "crm")
        // At 1000: one due at once, one due in a minute, and another sink's due in a minute.
        try store.enqueue(
            [Rows.delivery(1), Rows.delivery(2, schedule: [60_000]), Rows.delivery(3, sink: otherSink, schedule: [60_000])],
            checkpoint: nil, nowMs: 1_000)
        let paused = SinkState(pipeline: "fulfillment", sink: "warehouse", status: .paused, frozenSinceMs: 1_000, changedAtMs: 1_000)
        #expect(try store.writeSinkState(paused, expectedVersion: 0, nowMs: 1_000).written)
        // Made during the pause: due when made, not moved.
        try store.enqueue([Rows.delivery(4, createdAtMs: 30_000)], checkpoint: nil, nowMs: 30_000)
        var healthy = SinkState(pipeline: "fulfillment", sink: "warehouse", changedAtMs: 101_000)
        healthy.reason = "a probe succeeded"
        #expect(try store.writeSinkState(healthy, expectedVersion: 1, nowMs: 101_000).written)
        let due = Dictionary(uniqueKeysWithValues: try store.list(DeliveryQuery(limit: 10)).map { ($0.eventID, $0.nextAttemptMs) })
        #expect(due["evt_1"] == 1_000, "due at the pause: due at the resume")
        #expect(due["evt_2"] == 161_000, "due a minute after the pause: a minute after the resume")
        #expect(due["evt_3"] == 61_000, "another sink's schedule is its own")
        #expect(due["evt_4"] == 30_000)
        // A write that is not a resume moves nothing.
        #expect(try store.writeSinkState(healthy, expectedVersion: 2, nowMs: 500_000).written)
        #expect(try store.detail(id: Rows.delivery(2).id)?.0.nextAttemptMs == 161_000)
    }

    @Test("schema: created on first use at this build's version; a newer one is refused", arguments: StoreEngineFixture.all)
    func schema(engine: StoreEngineFixture) throws {
        let scope = try engine.makeScope()
        #expect(try scope.open().schemaVersion() == engine.schemaVersion)
        #expect(try scope.open().schemaVersion() == engine.schemaVersion, "opening again migrates nothing")
        try scope.setSchemaVersion(engine.schemaVersion + 1)
        #expect {
            try scope.open()
        } throws: { error in
            (error as? DeliveryStoreError)?.kind == .schemaTooNew(found: engine.schemaVersion + 1, known: engine.schemaVersion)
        }
    }
}
