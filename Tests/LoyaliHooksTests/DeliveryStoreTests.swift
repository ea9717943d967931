import CSQLite
import Foundation
import Synchronization
import Testing

@testable import LoyaliHooks

/// A fresh state directory under the system temp dir, removed when the value goes away.
private final class StateDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("loyali-store-\(UUID().uuidString)", isDirectory: true).path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func open() throws -> SQLiteDeliveryStore { try SQLiteDeliveryStore(directory: path) }
}

private let guideSchedule: [Int64] = [0, 60_000, 300_000, 1_800_000, 7_200_000]
private let hooks = (pipeline: "fulfillment", sink: "warehouse")

/// A canonical `whd_` id (32 lowercase hex digits) for a name, like `DeliveryID.make` gives.
private func canonicalID(_ name: String) -> String {
    func fnv(_ seed: UInt64) -> String {
        var hash = seed
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
    return "whd_" + fnv(0xcbf2_9ce4_8422_2325) + fnv(0x8422_2325_cbf2_9ce4)
}

private func delivery(
    _ number: Int, pipeline: String = hooks.pipeline, sink: String = hooks.sink,
    eventType: String = "points.earned", schedule: [Int64] = guideSchedule, createdAtMs: Int64 = 1_000
) -> NewDelivery {
    let eventID = "evt_\(number)"
    return NewDelivery(
        id: canonicalID("\(eventID)/\(pipeline)/\(sink)"), pipeline: pipeline,
        sink: sink, eventID: eventID, eventType: eventType,
        body: Array(#"{"id":"whd","event_type":"\#(eventType)","n":\#(number)}"#.utf8),
        schedule: schedule, createdAtMs: createdAtMs)
}

private func attempt(
    _ claimed: ClaimedDelivery, at startedAtMs: Int64, durationMs: Int64 = 12, httpStatus: Int? = 500,
    outcome: AttemptOutcome
) -> AttemptRecord {
    AttemptRecord(
        deliveryID: claimed.id, attempt: claimed.attempt, startedAtMs: startedAtMs, durationMs: durationMs,
        httpStatus: httpStatus, errorClass: nil, errorMessage: nil, responseSnippet: "nope", outcome: outcome)
}

@Suite("DeliveryStore")
struct DeliveryStoreTests {
    // MARK: At rest

    /// The permission bits of `path`.
    private func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test("SQLite keeps no memory statistics: with them on, its every allocation takes one process-wide lock")
    func sqliteMemoryStatisticsAreOff() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        #expect(try store.enqueue([delivery(1)], checkpoint: nil, nowMs: 1_000) == 1)
        var current: Int64 = -1
        var highwater: Int64 = -1
        #expect(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &current, &highwater, 0) == SQLITE_OK)
        // Counted only while statistics are on; the store above allocated plenty.
        #expect(current == 0 && highwater == 0)
    }

    @Test("The runner's connection does not zero-fill freed space: the status change of every delivery frees index entries")
    func secureDeleteIsOff() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        // Debian's libsqlite3 defaults to 1 (compile option SECURE_DELETE).
        #expect(try store.withDatabase { try $0.scalarInt64("PRAGMA secure_delete") } == 0)
    }

    @Test("the state directory is created 0700 and the database, -wal and -shm files 0600")
    func stateIsPrivate() throws {
        let directory = StateDirectory()
        let nested = directory.path + "/state"
        let store = try SQLiteDeliveryStore(directory: nested)
        #expect(try store.enqueue([delivery(1)], checkpoint: nil, nowMs: 1_000) == 1)
        #expect(try mode(directory.path) == 0o700)
        #expect(try mode(nested) == 0o700)
        for suffix in ["", "-wal", "-shm"] {
            let file = nested + "/" + SQLiteDeliveryStore.fileName + suffix
            #expect(FileManager.default.fileExists(atPath: file), "\(file)")
            #expect(try mode(file) == 0o600, "\(file)")
        }
    }

    @Test("a database of ours that others could read is tightened to 0600 when opened")
    func existingDatabaseIsTightened() throws {
        let directory = StateDirectory()
        do {
            let store = try directory.open()
            #expect(try store.enqueue([delivery(1)], checkpoint: nil, nowMs: 1_000) == 1)
        }
        let file = directory.path + "/" + SQLiteDeliveryStore.fileName
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        let reopened = try directory.open()
        #expect(try reopened.counts()[.pending] == 1)
        #expect(try mode(file) == 0o600)
    }

    @Test(
        "opening a second connection in the process keeps its locks: another process's writes are seen and it never deletes the WAL",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs python3 for a second process"))
    func secondConnectionKeepsTheProcessLocks() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        // A state written in the WAL, as a running serve has.
        #expect(try store.writeSinkState(SinkState(pipeline: "p", sink: "s"), expectedVersion: 0, nowMs: 1_000).written)
        // serve opens a second connection (its checkpointer) while the first is open.
        let second = try directory.open()
        #expect(try second.sinkStates().count == 1)
        // Another process (the CLI's `sinks disable`) writes and closes.
        let file = directory.path + "/" + SQLiteDeliveryStore.fileName
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c",
            """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], timeout=5)
            c.execute("UPDATE sink_states SET status = 'disabled', version = version + 1")
            c.commit()
            c.close()
            """,
            file,
        ]
        try process.runTiedToTests()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: file + "-wal"), "the other process took the WAL for its own and deleted it")
        #expect(try store.sinkStates().first?.status == .disabled, "the other process's write is not seen")
    }

    // MARK: Outbox

    @Test func replayNeverAddsASecondRowNorResetsASucceededOne() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        let batch = (1...3).map { delivery($0) }
        #expect(try store.enqueue(batch, checkpoint: nil, nowMs: 1_000) == 3)

        let first = try #require(try store.claimDue(sinkKey: hooks, nowMs: 1_000, limit: 1).first)
        try store.record([attempt(first, at: 1_000, httpStatus: 200, outcome: .succeeded)])

        // The replay brings the same three plus one new event.
        #expect(try store.enqueue(batch + [delivery(4)], checkpoint: nil, nowMs: 5_000) == 1)
        let counts = try store.counts()
        #expect(counts[.succeeded] == 1)
        #expect(counts[.pending] == 3)
        #expect(counts.values.reduce(0, +) == 4)
        let replayed = try #require(try store.detail(id: first.id))
        #expect(replayed.0.status == .succeeded)
        #expect(replayed.0.attempts == 1)
        #expect(replayed.1.count == 1)
    }

    @Test func firstAttemptIsDueAfterTheFirstDelay() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        try store.enqueue([delivery(1, schedule: [2_000, 60_000])], checkpoint: nil, nowMs: 10_000)
        #expect(try store.nextDueMs(sinkKey: hooks) == 12_000)
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 11_999, limit: 10).isEmpty)
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 12_000, limit: 10).count == 1)
    }

    @Test func checkpointCommitsOnlyWithItsDeliveries() throws {
        let directory = StateDirectory()
        do {
            let store = try directory.open()
            #expect(try store.checkpoint(source: "events.jsonl") == nil)
            try store.enqueue([delivery(1), delivery(2)], checkpoint: ("events.jsonl", 120), nowMs: 1_000)
            #expect(try store.checkpoint(source: "events.jsonl") == 120)

            // The third row breaks a CHECK constraint mid-batch: nothing of the batch may stick.
            var broken = delivery(5)
            broken.id = ""
            let error = #expect(throws: SQLiteError.self) {
                try store.enqueue([delivery(3), delivery(4), broken], checkpoint: ("events.jsonl", 480), nowMs: 2_000)
            }
            #expect(error?.code == 19)  // SQLITE_CONSTRAINT
            #expect(error?.description.contains("CHECK constraint failed") == true)
            #expect(try store.checkpoint(source: "events.jsonl") == 120)
            #expect(try store.list(DeliveryQuery()).map(\.eventID).sorted() == ["evt_1", "evt_2"])

            // An empty schedule is refused the same way, after earlier rows were written.
            var unschedulable = delivery(7)
            unschedulable.schedule = []
            #expect {
                try store.enqueue([delivery(6), unschedulable], checkpoint: ("events.jsonl", 900), nowMs: 3_000)
            } throws: { error in
                (error as? DeliveryStoreError)?.kind == .invalidDelivery(id: unschedulable.id)
            }
            var negative = delivery(8)
            negative.schedule = [0, -5]
            #expect {
                try store.enqueue([delivery(6), negative], checkpoint: ("events.jsonl", 900), nowMs: 3_000)
            } throws: { error in
                (error as? DeliveryStoreError)?.kind == .invalidDelivery(id: negative.id)
            }
            #expect(try store.checkpoint(source: "events.jsonl") == 120)
            #expect(try store.counts()[.pending] == 2)
        }
        // After a restart, reading continues from the committed checkpoint.
        let reopened = try directory.open()
        #expect(try reopened.checkpoint(source: "events.jsonl") == 120)
        #expect(try reopened.checkpoint(source: "other") == nil)
    }

    // MARK: Claim, record, retry

    @Test func claimRecordRetryThenFail() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        let schedule: [Int64] = [0, 60_000, 300_000]
        try store.enqueue([delivery(1, schedule: schedule)], checkpoint: nil, nowMs: 1_000)

        let first = try #require(try store.claimDue(sinkKey: hooks, nowMs: 1_000, limit: 10).first)
        #expect(first.attempt == 1)
        #expect(first.scheduleOffset == 0)
        #expect(first.schedule == schedule)
        #expect(first.body == delivery(1).body)
        #expect(try store.detail(id: first.id)?.0.status == .inFlight)
        // In flight: neither claimable again nor "due".
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 1_000_000, limit: 10).isEmpty)
        #expect(try store.nextDueMs(sinkKey: hooks) == nil)

        try store.record([attempt(first, at: 1_000, outcome: .retry(atMs: 61_000))])
        var summary = try #require(try store.detail(id: first.id)?.0)
        #expect(summary.status == .retrying)
        #expect(summary.attempts == 1)
        #expect(summary.nextAttemptMs == 61_000)
        #expect(summary.lastError == "HTTP 500")
        #expect(summary.lastHTTPStatus == 500)
        #expect(try store.nextDueMs(sinkKey: hooks) == 61_000)
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 60_999, limit: 10).isEmpty)

        let second = try #require(try store.claimDue(sinkKey: hooks, nowMs: 61_000, limit: 10).first)
        #expect(second.id == first.id)
        #expect(second.attempt == 2)
        try store.record([attempt(second, at: 61_000, outcome: .retry(atMs: 361_000))])

        let third = try #require(try store.claimDue(sinkKey: hooks, nowMs: 361_000, limit: 10).first)
        #expect(third.attempt == 3)
        var timeout = attempt(third, at: 361_000, durationMs: 10_000, httpStatus: nil, outcome: .failed)
        timeout.errorClass = "timeout"
        timeout.errorMessage = "no response within 10s"
        try store.record([timeout])

        summary = try #require(try store.detail(id: first.id)?.0)
        #expect(summary.status == .failed)
        #expect(summary.attempts == 3)
        #expect(summary.nextAttemptMs == nil)
        #expect(summary.lastError == "timeout: no response within 10s")
        #expect(summary.updatedAtMs == 371_000)
        #expect(try store.nextDueMs(sinkKey: hooks) == nil)
        #expect(try store.claimDue(sinkKey: hooks, nowMs: .max, limit: 10).isEmpty)
    }

    @Test func successClearsTheLastError() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        try store.enqueue([delivery(1)], checkpoint: nil, nowMs: 0)
        let first = try #require(try store.claimDue(sinkKey: hooks, nowMs: 0, limit: 1).first)
        try store.record([attempt(first, at: 0, httpStatus: 503, outcome: .retry(atMs: 60_000))])
        let second = try #require(try store.claimDue(sinkKey: hooks, nowMs: 60_000, limit: 1).first)
        try store.record([attempt(second, at: 60_000, httpStatus: 204, outcome: .succeeded)])
        let summary = try #require(try store.detail(id: first.id)?.0)
        #expect(summary.status == .succeeded)
        #expect(summary.lastError == nil)
        #expect(summary.lastHTTPStatus == 204)
    }

    @Test func claimIsPerSinkOldestFirstAndBounded() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        // Enqueued at different times, so their first attempts fall due in reverse order.
        for number in 1...5 {
            try store.enqueue([delivery(number)], checkpoint: nil, nowMs: Int64(100 - number))
        }
        try store.enqueue([delivery(9, sink: "audit")], checkpoint: nil, nowMs: 0)

        let claimed = try store.claimDue(sinkKey: hooks, nowMs: 1_000, limit: 3)
        #expect(claimed.map(\.eventID) == ["evt_5", "evt_4", "evt_3"])
        #expect(claimed.allSatisfy { $0.sink == "warehouse" })
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 1_000, limit: 10).map(\.eventID) == ["evt_2", "evt_1"])
        #expect(try store.nextDueMs(sinkKey: hooks) == nil)
        #expect(try store.nextDueMs(sinkKey: (hooks.pipeline, "audit")) == 0)
        #expect(try store.claimDue(sinkKey: (hooks.pipeline, "audit"), nowMs: 1_000, limit: 10).map(\.eventID) == ["evt_9"])
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 1_000, limit: 0).isEmpty)
    }

    @Test func recordOfAnUnknownDeliveryRecordsNothing() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        try store.enqueue([delivery(1)], checkpoint: nil, nowMs: 0)
        let claimed = try #require(try store.claimDue(sinkKey: hooks, nowMs: 0, limit: 1).first)
        var stranger = attempt(claimed, at: 0, outcome: .failed)
        stranger.deliveryID = "whd_unknown"
        #expect {
            try store.record([attempt(claimed, at: 0, httpStatus: 200, outcome: .succeeded), stranger])
        } throws: { error in
            (error as? DeliveryStoreError)?.kind == .unknownDelivery(id: "whd_unknown")
        }
        let detail = try #require(try store.detail(id: claimed.id))
        #expect(detail.0.status == .inFlight)
        #expect(detail.1.isEmpty)
    }

    // MARK: The runner's store thread

    /// Claim results from a ``StoreWorker``, waiting up to 10 s for `count` of them.
    private func results(from worker: StoreWorker, ready: Wakeup, count: Int) -> [StoreWorker.ClaimResult] {
        var collected: [StoreWorker.ClaimResult] = []
        let deadline = Date(timeIntervalSinceNow: 10)
        while collected.count < count, Date() < deadline {
            ready.wait(until: deadline)
            collected += worker.takeResults()
        }
        return collected
    }

    @Test func theStoreThreadWritesOutcomesHandedOverBeforeItServesAClaim() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        try store.enqueue([delivery(1)], checkpoint: nil, nowMs: 1_000)
        let first = try #require(try store.claimDue(sinkKey: hooks, nowMs: 1_000, limit: 10).first)
        let ready = Wakeup()
        let worker = StoreWorker(store: store, logger: Logger(format: .logfmt) { _ in }, resultsReady: ready)
        // A retry due at once, handed over just before the claim: the claim must see it.
        worker.record([attempt(first, at: 1_000, outcome: .retry(atMs: 1_000))])
        worker.claim([StoreWorker.ClaimRequest(lane: 3, sinkKey: hooks, nowMs: 1_000, limit: 10, window: .all)])
        let answered = results(from: worker, ready: ready, count: 1)
        worker.finish()
        #expect(answered.map(\.lane) == [3])
        #expect(answered.first?.claimed.map(\.id) == [first.id])
        #expect(answered.first?.claimed.first?.attempt == 2)
    }

    @Test func theStoreThreadKeepsAttemptsAFullDiskRefusedAndWritesThemOnceThereIsRoom() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        try store.enqueue([delivery(1)], checkpoint: nil, nowMs: 1_000)
        let claimed = try #require(try store.claimDue(sinkKey: hooks, nowMs: 1_000, limit: 10).first)
        try store.limitGrowth(true)
        let failures = Mutex<[String]>([])
        let worker = StoreWorker(store: store, logger: Logger(format: .logfmt) { _ in }, resultsReady: Wakeup()) { reason in
            failures.withLock { $0.append(reason) }
        }
        // A large snippet needs new pages: the full database refuses it.
        var record = attempt(claimed, at: 1_000, httpStatus: 200, outcome: .succeeded)
        record.responseSnippet = String(repeating: "x", count: 20_000)
        worker.record([record])
        func waitFor(_ condition: () throws -> Bool) rethrows -> Bool {
            let deadline = Date(timeIntervalSinceNow: 5)
            while Date() < deadline {
                if try condition() { return true }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return try condition()
        }
        #expect(waitFor { !failures.withLock { $0.isEmpty } })
        #expect(store.writeFailure?.contains("full") == true)
        #expect(try store.counts()[.inFlight] == 1)
        try store.limitGrowth(false)
        #expect(try waitFor { try store.counts()[.succeeded] == 1 }, "the attempt was never written")
        #expect(store.writeFailure == nil)
        worker.finish()
        #expect(failures.withLock { $0.count } == 1, "one outage, reported once")
    }

    @Test func anEmptyClaimSaysWhenTheLaneIsNextDueAndFinishWritesWhatIsLeft() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        try store.enqueue([delivery(1), delivery(2, schedule: [5_000, 60_000])], checkpoint: nil, nowMs: 1_000)
        let first = try #require(try store.claimDue(sinkKey: hooks, nowMs: 1_000, limit: 1).first)
        let ready = Wakeup()
        let worker = StoreWorker(store: store, logger: Logger(format: .logfmt) { _ in }, resultsReady: ready)
        worker.claim([StoreWorker.ClaimRequest(lane: 0, sinkKey: hooks, nowMs: 1_000, limit: 10, window: .all)])
        worker.claim([StoreWorker.ClaimRequest(lane: 1, sinkKey: ("other", "sink"), nowMs: 1_000, limit: 10, window: .all)])
        let answered = results(from: worker, ready: ready, count: 2).sorted { $0.lane < $1.lane }
        #expect(answered.map(\.claimed.count) == [0, 0])
        #expect(answered.map(\.nextDueMs) == [6_000, SinkLane.nothingDue])
        // A lone outcome waits briefly for company; finish writes it before returning.
        worker.record([attempt(first, at: 1_000, httpStatus: 200, outcome: .succeeded)])
        worker.finish()
        #expect(try store.detail(id: first.id)?.0.status == .succeeded)
    }

    @Test func enqueueCanStoreDueRowsAsAlreadyClaimed() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        let later = delivery(3, schedule: [60_000])
        let stored = try store.enqueue([delivery(1), delivery(2), later], checkpoint: nil, nowMs: 1_000, claiming: [0, 2])
        // Row 2 is due in a minute, so it is stored pending even though it was asked for.
        #expect(stored.inserted == 3)
        #expect(stored.claimed == [ClaimedDelivery(firstAttemptOf: delivery(1))])
        #expect(stored.claimed.first?.attempt == 1)
        #expect(try store.detail(id: delivery(1).id)?.0.status == .inFlight)
        #expect(try store.detail(id: later.id)?.0.status == .pending)
        // Claimed rows are not claimed again, and their attempts record without a lookup.
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 1_000, limit: 10).map(\.id) == [delivery(2).id])
        let claimed = try #require(stored.claimed.first)
        try store.record([attempt(claimed, at: 1_000, httpStatus: 200, outcome: .succeeded)])
        #expect(try store.detail(id: delivery(1).id)?.0.status == .succeeded)
        // A replay claims nothing: the row exists already.
        let replayed = try store.enqueue([delivery(1)], checkpoint: nil, nowMs: 2_000, claiming: [0])
        #expect(replayed.inserted == 0)
        #expect(replayed.claimed.isEmpty)
        // After a crash, a row stored as claimed is due again like any claimed row.
        _ = try store.enqueue([delivery(4)], checkpoint: nil, nowMs: 3_000, claiming: [0])
        let reopened = try directory.open()
        #expect(try reopened.recoverInFlight() == 2)
        #expect(Set(try reopened.claimDue(sinkKey: hooks, nowMs: 3_000, limit: 10).map(\.id)) == [delivery(2).id, delivery(4).id])
    }

    // MARK: Crash recovery

    @Test func recoverInFlightCountsTheInterruptedAttemptSoNoAttemptNumberRepeats() throws {
        let directory = StateDirectory()
        var sentAttempts: [String: Int] = [:]
        do {
            let store = try directory.open()
            try store.enqueue([delivery(1), delivery(2)], checkpoint: nil, nowMs: 0)
            let claimed = try store.claimDue(sinkKey: hooks, nowMs: 0, limit: 2)
            // Delivery 2 fails once and is claimed again: it has a recorded attempt.
            let retried = try #require(claimed.first { $0.eventID == "evt_2" })
            try store.record([attempt(retried, at: 0, outcome: .retry(atMs: 60_000))])
            let retry = try store.claimDue(sinkKey: hooks, nowMs: 60_000, limit: 2)
            #expect(try store.counts()[.inFlight] == 2)
            // Both attempts were handed to the sink.
            #expect(try store.markStarted(ids: [claimed.first { $0.eventID == "evt_1" }!.id] + retry.map(\.id)).isEmpty)
            sentAttempts = Dictionary(uniqueKeysWithValues: claimed.map { ($0.id, $0.eventID == "evt_2" ? 2 : 1) })
            // The process dies here with both rows in flight: either attempt may have been sent.
        }
        let store = try directory.open()
        #expect(try store.recoverInFlight() == 2)
        let counts = try store.counts()
        #expect(counts[.inFlight] == 0)
        #expect(counts[.retrying] == 2)
        for (id, sent) in sentAttempts {
            let (summary, attempts) = try #require(try store.detail(id: id))
            #expect(summary.attempts == sent)
            #expect(attempts.last?.attempt == sent)
            #expect(attempts.last?.errorClass == "interrupted")
            #expect(summary.lastError?.hasPrefix("interrupted") == true)
        }
        let again = try store.claimDue(sinkKey: hooks, nowMs: 60_000, limit: 10)
        #expect(Dictionary(uniqueKeysWithValues: again.map { ($0.id, $0.attempt) }) == sentAttempts.mapValues { $0 + 1 })
        #expect(try store.markStarted(ids: again.map(\.id)).isEmpty)
        #expect(try store.recoverInFlight() == 2)
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 60_000, limit: 10).map(\.attempt).sorted() == [3, 4])
        // Claimed again but never started before the next crash: nothing is counted this time.
        #expect(try store.recoverInFlight() == 2)
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 60_000, limit: 10).map(\.attempt).sorted() == [3, 4])
        #expect(try store.recoverInFlight() == 2)
        #expect(try store.recoverInFlight() == 0)
    }

    @Test func releasePutsUnstartedDeliveriesBackWithNoAttempt() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        try store.enqueue([delivery(1), delivery(2), delivery(3)], checkpoint: nil, nowMs: 0)
        let claimed = try store.claimDue(sinkKey: hooks, nowMs: 0, limit: 3)
        let retried = try #require(claimed.first { $0.eventID == "evt_2" })
        try store.record([attempt(retried, at: 0, outcome: .retry(atMs: 10))])
        _ = try store.claimDue(sinkKey: hooks, nowMs: 10, limit: 3)
        let done = try #require(claimed.first { $0.eventID == "evt_3" })
        try store.record([attempt(done, at: 0, httpStatus: 200, outcome: .succeeded)])
        #expect(try store.release(ids: claimed.map(\.id) + ["whd_missing"]) == 2)
        #expect(try store.counts() == [.pending: 1, .retrying: 1, .inFlight: 0, .succeeded: 1, .failed: 0])
        #expect(try store.detail(id: claimed[0].id)?.1.isEmpty == true)
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 10, limit: 3).map(\.attempt).sorted() == [1, 2])
    }

    // MARK: Resend

    @Test func resendKeepsTheIDAndRestartsTheSchedule() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        try store.enqueue([delivery(1, schedule: [0, 60_000]), delivery(2)], checkpoint: nil, nowMs: 0)
        let first = try #require(try store.claimDue(sinkKey: hooks, nowMs: 0, limit: 1).first)
        try store.record([attempt(first, at: 0, outcome: .retry(atMs: 60_000))])
        // Delivery 2 has been due since 0, so it comes first; it stays in flight.
        let inFlight = try #require(try store.claimDue(sinkKey: hooks, nowMs: 60_000, limit: 1).first)
        #expect(inFlight.eventID == "evt_2")
        let second = try #require(try store.claimDue(sinkKey: hooks, nowMs: 60_000, limit: 1).first)
        #expect(second.id == first.id)
        try store.record([attempt(second, at: 60_000, outcome: .failed)])

        let queued = try store.resendReporting(ids: [first.id, "whd_missing", inFlight.id, first.id], nowMs: 500_000)
        #expect(queued == ResendResult(queued: [first.id], inFlight: [inFlight.id], unknown: ["whd_missing"]))
        let summary = try #require(try store.detail(id: first.id)?.0)
        #expect(summary.status == .pending)
        #expect(summary.nextAttemptMs == 500_000)

        let resent = try #require(try store.claimDue(sinkKey: hooks, nowMs: 500_000, limit: 1).first)
        #expect(resent.id == first.id)
        #expect(resent.attempt == 3)
        #expect(resent.scheduleOffset == 2)
        // attempt - scheduleOffset = 1: the schedule starts over, so the next delay is schedule[1].
        #expect(resent.schedule[resent.attempt - resent.scheduleOffset] == 60_000)
        try store.record([attempt(resent, at: 500_000, httpStatus: 200, outcome: .succeeded)])
        #expect(try store.detail(id: first.id)?.1.map(\.attempt) == [1, 2, 3])

        // A succeeded delivery can still be resent by id, by hand.
        #expect(try store.resend(ids: [first.id], nowMs: 600_000) == [first.id])
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 600_000, limit: 1).first?.attempt == 4)
    }

    @Test func resendFailedOnlyTouchesMatchingFailedDeliveries() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        let deliveries = [
            delivery(1), delivery(2), delivery(3, sink: "audit"), delivery(4, pipeline: "sync"), delivery(5),
        ]
        try store.enqueue(deliveries, checkpoint: nil, nowMs: 0)
        for key in [hooks, (hooks.pipeline, "audit"), ("sync", hooks.sink)] {
            let claimed = try store.claimDue(sinkKey: key, nowMs: 0, limit: 10)
            // evt_5 succeeds; every other one fails for good at once.
            try store.record(
                claimed.map {
                    attempt($0, at: 1_000, httpStatus: $0.eventID == "evt_5" ? 200 : 500,
                            outcome: $0.eventID == "evt_5" ? .succeeded : .failed)
                })
        }
        #expect(try store.counts()[.failed] == 4)

        // `status` in the query is overridden: only failed ones are resent.
        let count = try store.resend(
            matching: DeliveryQuery(status: .succeeded, pipeline: hooks.pipeline, sink: hooks.sink, limit: 1),
            nowMs: 9_000)
        #expect(count == 2)
        let pending = try store.list(DeliveryQuery(status: .pending))
        #expect(Set(pending.map(\.eventID)) == ["evt_1", "evt_2"])
        #expect(pending.allSatisfy { $0.nextAttemptMs == 9_000 })
        #expect(try store.detail(id: deliveries[4].id)?.0.status == .succeeded)
        #expect(try store.resend(matching: DeliveryQuery(sinceMs: 2_000), nowMs: 9_000) == 0)
        #expect(try store.resend(matching: DeliveryQuery(sinceMs: 1_000), nowMs: 9_000) == 2)
        #expect(try store.counts()[.failed] == 0)
    }

    // MARK: Delivery log

    @Test func listFiltersAndOrdersNewestFirst() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        try store.enqueue(
            [delivery(1, eventType: "tier.upgraded"), delivery(2), delivery(3, sink: "audit")],
            checkpoint: nil, nowMs: 1_000)
        try store.enqueue([delivery(4, pipeline: "sync"), delivery(5)], checkpoint: nil, nowMs: 2_000)
        let claimed = try #require(try store.claimDue(sinkKey: hooks, nowMs: 2_000, limit: 1).first)
        #expect(claimed.eventID == "evt_1")
        try store.record([attempt(claimed, at: 3_000, outcome: .retry(atMs: 63_000))])

        #expect(try store.list(DeliveryQuery()).map(\.eventID) == ["evt_5", "evt_4", "evt_3", "evt_2", "evt_1"])
        #expect(try store.list(DeliveryQuery(limit: 2)).map(\.eventID) == ["evt_5", "evt_4"])
        #expect(try store.list(DeliveryQuery(status: .retrying)).map(\.eventID) == ["evt_1"])
        #expect(try store.list(DeliveryQuery(status: .pending, pipeline: hooks.pipeline, sink: hooks.sink)).map(\.eventID) == ["evt_5", "evt_2"])
        #expect(try store.list(DeliveryQuery(pipeline: "sync")).map(\.eventID) == ["evt_4"])
        #expect(try store.list(DeliveryQuery(sink: "audit")).map(\.eventID) == ["evt_3"])
        #expect(try store.list(DeliveryQuery(eventType: "tier.upgraded")).map(\.eventID) == ["evt_1"])
        // Activity since 2 s: the second batch, and evt_1's attempt.
        #expect(try store.list(DeliveryQuery(sinceMs: 2_000)).map(\.eventID) == ["evt_5", "evt_4", "evt_1"])
        #expect(try store.list(DeliveryQuery(status: .failed)).isEmpty)

        let row = try #require(try store.list(DeliveryQuery(eventType: "tier.upgraded")).first)
        #expect(row.id == delivery(1).id)
        #expect(row.attempts == 1)
        #expect(row.createdAtMs == 1_000)
        #expect(row.updatedAtMs == 3_012)
        #expect(row.nextAttemptMs == 63_000)
    }

    @Test func detailShowsTheAttemptTimeline() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        try store.enqueue([delivery(1)], checkpoint: nil, nowMs: 0)
        #expect(try store.detail(id: "whd_nothing") == nil)

        let first = try #require(try store.claimDue(sinkKey: hooks, nowMs: 0, limit: 1).first)
        try store.record([
            AttemptRecord(
                deliveryID: first.id, attempt: 1, startedAtMs: 10, durationMs: 10_000, httpStatus: nil,
                errorClass: "timeout", errorMessage: "no response within 10s", responseSnippet: nil,
                outcome: .retry(atMs: 60_010))
        ])
        let second = try #require(try store.claimDue(sinkKey: hooks, nowMs: 60_010, limit: 1).first)
        try store.record([
            AttemptRecord(
                deliveryID: second.id, attempt: 2, startedAtMs: 60_010, durationMs: 87, httpStatus: 202,
                errorClass: nil, errorMessage: nil, responseSnippet: #"{"ok":true}"#, outcome: .succeeded)
        ])

        let (summary, timeline) = try #require(try store.detail(id: first.id))
        #expect(summary.status == .succeeded)
        #expect(summary.eventType == "points.earned")
        #expect(
            timeline == [
                AttemptRow(
                    deliveryID: first.id, attempt: 1, startedAtMs: 10, durationMs: 10_000, httpStatus: nil,
                    errorClass: "timeout", errorMessage: "no response within 10s", responseSnippet: nil,
                    outcome: .retry(atMs: 60_010), node: store.nodeID),
                AttemptRow(
                    deliveryID: first.id, attempt: 2, startedAtMs: 60_010, durationMs: 87, httpStatus: 202,
                    errorClass: nil, errorMessage: nil, responseSnippet: #"{"ok":true}"#, outcome: .succeeded,
                    node: store.nodeID),
            ])
    }

    @Test func statsComputesRatesAndNearestRankPercentiles() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        // warehouse: 100 deliveries, first attempts lasting 1…100 ms in shuffled order.
        try store.enqueue((1...100).map { delivery($0) }, checkpoint: nil, nowMs: 0)
        try store.enqueue((1...4).map { delivery($0, sink: "audit") }, checkpoint: nil, nowMs: 0)
        let claimed = try store.claimDue(sinkKey: hooks, nowMs: 0, limit: 100)
        var durations = Array(Int64(1)...100)
        durations.shuffle()
        // Deliveries 1-90 succeed, 91-96 will retry, 97-100 fail.
        try store.record(
            zip(claimed, durations).map { claimed, duration in
                let number = Int(claimed.eventID.dropFirst(4))!
                let outcome: AttemptOutcome = number <= 90 ? .succeeded : number <= 96 ? .retry(atMs: 60_000) : .failed
                return attempt(claimed, at: 1_000, durationMs: duration, httpStatus: number <= 90 ? 200 : 500, outcome: outcome)
            })
        // Two of the retrying ones succeed on their second attempt (1000 ms each, an old window).
        let retried = try store.claimDue(sinkKey: hooks, nowMs: 60_000, limit: 2)
        try store.record(retried.map { attempt($0, at: 500, durationMs: 1_000, httpStatus: 200, outcome: .succeeded) })

        let all = try store.stats(sinceMs: nil)
        #expect(all.map(\.sink) == ["audit", "warehouse"])
        let audit = all[0]
        #expect(audit.total == 4)
        #expect(audit.pending == 4)
        #expect(audit.successRate == nil)
        #expect(audit.retryRate == nil)
        #expect(audit.latencyP50Ms == nil)

        let warehouse = all[1]
        #expect(warehouse.total == 100)
        #expect(warehouse.succeeded == 92)
        #expect(warehouse.failed == 4)
        #expect(warehouse.retrying == 4)
        #expect(warehouse.attempted == 100)
        #expect(warehouse.retried == 2)
        #expect(warehouse.attemptCount == 102)
        #expect(warehouse.successRate == 92.0 / 96.0)
        #expect(warehouse.retryRate == 0.02)
        // 102 attempts: 1…100 and 1000, 1000. Ranks ceil(.5×102)=51, ceil(.95×102)=97, ceil(.99×102)=101,
        // values 51, 97 and 1000, reported as their histogram buckets' representatives: 50 (50–51),
        // 97 (96–99) and 1007 (992–1023).
        #expect(warehouse.latencyP50Ms == 50)
        #expect(warehouse.latencyP95Ms == 97)
        #expect(warehouse.latencyP99Ms == 1_007)

        // Since 1 s: the two 500 ms-start attempts fall out; exactly the 1…100 population is left.
        let recent = try #require(try store.stats(sinceMs: 1_000).first { $0.sink == "warehouse" })
        #expect(recent.attemptCount == 100)
        // Values 50, 95 and 99: buckets 50–51, 92–95 and 96–99.
        #expect(recent.latencyP50Ms == 50)
        #expect(recent.latencyP95Ms == 93)
        #expect(recent.latencyP99Ms == 97)
        #expect(try store.stats(sinceMs: 10_000_000).isEmpty)
    }

    @Test func rollupChangesAddUpAcrossMinutesAndSinksInAnyOrder() {
        // Changes alternate between minutes and sinks; each minute's sum is what it received,
        // whichever change came last, and the hour row adds its minutes up.
        var changes = RollupChanges()
        let minute: Int64 = 60_000
        let hour = 60 * minute
        let inFlight = RollupChanges.RowState(status: .inFlight, attempts: 0, updatedAtMs: 5 * hour + minute + 10)
        let done = RollupChanges.RowState(status: .succeeded, attempts: 1, updatedAtMs: 5 * hour + 2 * minute + 20)
        changes.move(pipeline: "p", sink: "a", from: nil, to: inFlight)
        changes.move(pipeline: "p", sink: "b", from: nil, to: inFlight)
        changes.move(pipeline: "p", sink: "a", from: inFlight, to: done)
        changes.attempt(pipeline: "p", sink: "a", startedAtMs: inFlight.updatedAtMs, outcome: "succeeded", durationMs: 40)
        changes.move(pipeline: "p", sink: "a", from: nil, to: inFlight)
        changes.attempt(pipeline: "p", sink: "a", startedAtMs: done.updatedAtMs, outcome: "retry", durationMs: 7)
        let minutes = changes.minutes
        let a1 = RollupChanges.Key(startMs: 5 * hour + minute, pipeline: "p", sink: "a")
        let a2 = RollupChanges.Key(startMs: 5 * hour + 2 * minute, pipeline: "p", sink: "a")
        let b1 = RollupChanges.Key(startMs: 5 * hour + minute, pipeline: "p", sink: "b")
        #expect(Set(minutes.keys) == [a1, a2, b1])
        // a, minute 1: in flight +1 −1 +1, one success of 40 ms.
        #expect(minutes[a1]?.inFlight == 1)
        #expect(minutes[a1]?.attemptsSucceeded == 1)
        #expect(minutes[a1]?.latency.percentile(50) == 40)
        // a, minute 2: one delivered with an attempt, one retried attempt of 7 ms.
        #expect(minutes[a2]?.succeeded == 1)
        #expect(minutes[a2]?.attempted == 1)
        #expect(minutes[a2]?.attemptsRetried == 1)
        #expect(minutes[a2]?.latency.percentile(50) == 7)
        #expect(minutes[b1]?.inFlight == 1)
        let hourRow = changes.rows.first { $0.spanMs == RollupSQL.hourMs && $0.key.sink == "a" }
        #expect(hourRow?.counts.inFlight == 1)
        #expect(hourRow?.counts.succeeded == 1)
        #expect(hourRow?.counts.latency.total == 2)
        #expect(changes.rows.count == 5)
        #expect(RollupChanges().rows.isEmpty)
    }

    @Test func latencyHistogramPercentilesStayWithinTheirBound() {
        // Exact below 32 ms; above, the representative is in the value's own bucket and within 1/32 of it.
        for value in Array(Int64(0)...5_000) + [65_535, 65_536, 1_000_000, 86_400_000, Int64.max / 2] {
            let bucket = LatencyHistogram.bucket(of: value)
            let reported = LatencyHistogram.representative(of: bucket)
            #expect(LatencyHistogram.bucket(of: reported) == bucket, "\(value)")
            if value < 32 { #expect(reported == value) }
            #expect(Double(abs(reported - value)) <= Double(value) / 32, "\(value) reported as \(reported)")
        }
        #expect(LatencyHistogram.bucket(of: -5) == 0)
        // Nearest rank over buckets: 1…100 ms.
        var histogram = LatencyHistogram()
        for value in Int64(1)...100 { histogram.add(durationMs: value) }
        #expect(histogram.total == 100)
        #expect([50, 95, 99, 100].map { histogram.percentile($0) } == [50, 93, 97, 101])
        #expect(LatencyHistogram().percentile(50) == nil)
        // The stored text round-trips and merges bucket by bucket; cancelled buckets vanish.
        var copy = LatencyHistogram()
        copy.merge(text: histogram.text)
        #expect(copy == histogram)
        var undo = LatencyHistogram()
        undo.add(durationMs: 7, count: -1)
        copy.merge(text: undo.text + ",," + "7:0")
        #expect(copy.total == 99)
        #expect(!copy.text.split(separator: ",").contains { $0.hasPrefix("7:") })
        #expect(LatencyHistogram().text.isEmpty)
        // Negative counts (a change undoing attempts), zero buckets left out, extreme values.
        var mixed = LatencyHistogram()
        mixed.add(bucket: 0, count: -3)
        mixed.add(bucket: 10, count: 0)
        mixed.add(bucket: 205, count: Int64.max)
        mixed.add(bucket: 300, count: Int64.min)
        #expect(mixed.text == "0:-3,205:9223372036854775807,300:-9223372036854775808")
        // Sparse: a slow attempt is one stored bucket, not an array up to its index (a store
        // write keeps one histogram per sink and minute), and any order of adds is the same.
        var slow = LatencyHistogram()
        slow.add(durationMs: 500)
        slow.add(durationMs: 3)
        #expect(slow.storedBuckets == 2)
        #expect(slow.text == "3:1,\(LatencyHistogram.bucket(of: 500)):1")
        var reversed = LatencyHistogram()
        for value in (Int64(1)...100).reversed() { reversed.add(durationMs: value) }
        #expect(reversed == histogram)
        #expect(reversed.text == histogram.text)
    }

    // MARK: Schema versions

    @Test func opensAndMigratesADatabaseFromAnOlderSchema() throws {
        let directory = StateDirectory()
        let v1 = Array(SQLiteSchema.migrations.prefix(1))
        do {
            let old = try SQLiteDeliveryStore(directory: directory.path, migrations: v1)
            // Rows as a version-1 build wrote them (today's statements name newer columns).
            try old.withDatabase { database in
                try database.execute(
                    """
                    INSERT INTO deliveries (seq, id, pipeline, sink, event_id, event_type, schedule, status, attempts,
                        next_attempt_at, created_at, updated_at, last_error)
                    VALUES (1, '\(delivery(1).id)', 'fulfillment', 'warehouse', 'evt_1', 'points.earned', '0,60000',
                        'failed', 1, NULL, 0, 0, 'HTTP 500');
                    INSERT INTO delivery_bodies (seq, body) VALUES (1, x'7B7D');
                    INSERT INTO attempts (delivery_seq, attempt, pipeline, sink, started_at, duration_ms, http_status, outcome)
                    VALUES (1, 1, 'fulfillment', 'warehouse', 0, 30, 500, 'failed');
                    INSERT INTO checkpoints (source, byte_offset, updated_at) VALUES ('events.jsonl', 42, 0);
                    """)
            }
            #expect(try old.withDatabase { try SQLiteSchema.version(of: $0) } == 1)
        }
        let store = try directory.open()
        #expect(try store.withDatabase { try SQLiteSchema.version(of: $0) } == SQLiteDeliveryStore.schemaVersion)
        let indexes = try store.withDatabase { database in
            try database.withStatement("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name") {
                var names: [String] = []
                while try $0.step() { names.append($0.string(at: 0)) }
                return names
            }
        }
        #expect(indexes == [
            "attempts_by_time", "deliveries_by_event", "deliveries_by_update", "deliveries_due_by_sink", "deliveries_failed",
            "deliveries_failed_by_update", "deliveries_in_flight", "deliveries_unsettled_by_key",
        ])
        // The old rows are all there and usable with the new indexes.
        #expect(try store.checkpoint(source: "events.jsonl") == 42)
        #expect(try store.list(DeliveryQuery(status: .failed)).map(\.eventID) == ["evt_1"])
        // The rollups were filled from the old rows when the migration created them.
        let backfilled = try #require(try store.stats(sinceMs: nil).first)
        #expect((backfilled.total, backfilled.failed, backfilled.attempted, backfilled.attemptCount) == (1, 1, 1, 1))
        #expect(backfilled.latencyP99Ms == 30)
        #expect(try store.resend(matching: DeliveryQuery(), nowMs: 1) == 1)
    }

    @Test func aFailingMigrationLeavesTheDatabaseAsItWas() throws {
        let directory = StateDirectory()
        _ = try SQLiteDeliveryStore(directory: directory.path, migrations: Array(SQLiteSchema.migrations.prefix(1)))
        let broken = [
            SQLiteSchema.migrations[0],
            StoreMigration(version: 2, summary: "half works", sql: "CREATE TABLE extra (x); CREATE INDEX oops ON missing (x);"),
        ]
        #expect(throws: SQLiteError.self) { try SQLiteDeliveryStore(directory: directory.path, migrations: broken) }
        let database = try SQLiteDatabase(path: directory.path + "/" + SQLiteDeliveryStore.fileName)
        #expect(try SQLiteSchema.version(of: database) == 1)
        #expect(try database.scalarInt64("SELECT count(*) FROM sqlite_master WHERE name = 'extra'") == 0)
        // And the real migration still applies afterwards.
        #expect(try SQLiteSchema.migrate(database) == 1)
        #expect(try SQLiteSchema.version(of: database) == SQLiteDeliveryStore.schemaVersion)
    }

    @Test func refusesADatabaseFromANewerBuild() throws {
        let directory = StateDirectory()
        _ = try directory.open()
        do {
            let database = try SQLiteDatabase(path: directory.path + "/" + SQLiteDeliveryStore.fileName)
            try database.execute("PRAGMA user_version = 99")
        }
        #expect {
            try directory.open()
        } throws: { error in
            guard let error = error as? DeliveryStoreError else { return false }
            return error.kind == .schemaTooNew(found: 99, known: SQLiteDeliveryStore.schemaVersion)
                && error.description
                    == "\(directory.path)/loyali-hooks.db: error: state database was written by a newer loyali-hooks (schema 99, this build knows \(SQLiteDeliveryStore.schemaVersion))"
        }
        // Refused without being touched.
        let database = try SQLiteDatabase(path: directory.path + "/" + SQLiteDeliveryStore.fileName)
        #expect(try SQLiteSchema.version(of: database) == 99)
    }

    @Test func stateDirectoryIsCreatedAndResolved() throws {
        let directory = StateDirectory()
        let nested = directory.path + "/deeper/state"
        let store = try SQLiteDeliveryStore(directory: nested)
        #expect(store.path == nested + "/loyali-hooks.db")
        #expect(FileManager.default.fileExists(atPath: store.path))
        #expect(try store.withDatabase { try $0.scalarString("PRAGMA journal_mode") } == "wal")
        #expect(try store.withDatabase { try $0.scalarInt64("PRAGMA synchronous") } == 2)  // FULL
        #expect(try store.withDatabase { try $0.scalarInt64("PRAGMA foreign_keys") } == 1)
        // Claims commit without an fsync, and must leave the connection durable again.
        try store.enqueue([delivery(1)], checkpoint: nil, nowMs: 0)
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 0, limit: 1).count == 1)
        #expect(try store.withDatabase { try $0.scalarInt64("PRAGMA synchronous") } == 2)

        #expect(StoreLocation.stateDirectory(option: "s", environment: ["LOYALI_HOOKS_STATE": "e"]) == "s")
        #expect(StoreLocation.stateDirectory(option: nil, environment: ["LOYALI_HOOKS_STATE": "e"]) == "e")
        #expect(StoreLocation.stateDirectory(option: nil, environment: [:]) == ".loyali-hooks")

        #expect {
            try SQLiteDeliveryStore(directory: "/proc/loyali-hooks-cannot-exist")
        } throws: { error in
            (error as? DeliveryStoreError)?.kind == .cannotCreateDirectory
        }
    }

    @Test("every filter combination of the delivery log reads an index in the log's order, or a bounded set it sorts")
    func logQueriesReadIndexes() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        func plan(_ statement: SQLiteLogQuery.Statement) throws -> [String] {
            try store.withDatabase { database in
                try database.withStatement("EXPLAIN QUERY PLAN " + statement.sql) { explain in
                    var details: [String] = []
                    while try explain.step() { details.append(explain.string(at: 3)) }
                    return details
                }
            }
        }
        let statuses: [DeliveryStatus?] = [nil] + DeliveryStatus.allCases
        let windows: [(Int64?, Int64?)] = [(nil, nil), (1_000, nil), (1_000, 90_000), (nil, 90_000)]
        let searches: [String?] = [nil, "whd_ab", "whd_abc", "evt_1", "whd_" + String(repeating: "c", count: 32)]
        let cursors: [DeliveryLogCursor?] = [nil, DeliveryLogCursor(updatedAtMs: 50_000, sequence: 7)]
        var checked = 0
        for status in statuses {
            for (pipeline, sink, type) in [(nil, nil, nil), ("p", nil, nil), (nil, "s", nil), (nil, nil, "t"), ("p", "s", "t"), ("p", "s", nil), ("p", nil, "t"), (nil, "s", "t")] as [(String?, String?, String?)] {
                for (since, until) in windows {
                    for search in searches {
                        for cursor in cursors {
                            let query = SQLiteLogQuery(
                                filter: DeliveryQuery(status: status, pipeline: pipeline, sink: sink, eventType: type, sinceMs: since),
                                search: search, untilMs: until, before: cursor)
                            let label = "status \(status?.rawValue ?? "any") pipeline \(pipeline ?? "-") sink \(sink ?? "-") type \(type ?? "-") window \(since.map(String.init) ?? "-")…\(until.map(String.init) ?? "-") search \(search ?? "-") cursor \(cursor?.text ?? "-")"
                            let ordered = try plan(query.select(query.orderedAccess))
                            // No line reads a table or an index whole, except where noted.
                            let fullScans = ordered.filter { $0.hasPrefix("SCAN ") }
                            switch query.orderedAccess {
                            case .ordered(let index):
                                // One index, read backwards in the log's order: no sort, the scan
                                // stops when the page is full; windows and cursors are its range.
                                #expect(ordered.first { $0.contains("deliveries USING") }?.contains("INDEX \(index)") == true, "\(label): \(ordered)")
                                #expect(!ordered.contains { $0.contains("TEMP B-TREE") }, "\(label): \(ordered)")
                                let ranged = since != nil || until != nil || cursor != nil
                                #expect(ranged ? ordered.contains { $0.hasPrefix("SEARCH deliveries USING") && $0.contains("updated_at") } : true, "\(label): \(ordered)")
                                #expect(fullScans.allSatisfy { $0.hasPrefix("SCAN deliveries USING") && $0.contains("INDEX \(index)") }, "\(label): \(ordered)")
                            case .search:
                                // The few rows the ids name, by rowid from their indexes.
                                #expect(ordered.contains { $0.contains("SEARCH deliveries USING INTEGER PRIMARY KEY (rowid=?)") }, "\(label): \(ordered)")
                                #expect(ordered.contains { $0.contains("USING COVERING INDEX deliveries_by_event (event_id=?)") }, "\(label): \(ordered)")
                                #expect(ordered.contains { $0.contains("sqlite_autoindex_deliveries_1 (id") }, "\(label): \(ordered)")
                                #expect(fullScans.isEmpty, "\(label): \(ordered)")
                            case .sorted:
                                Issue.record("\(label): a sorted read is only chosen after a probe")
                            }
                            #expect(!ordered.contains { $0.contains("SCAN attempts") }, "\(label): \(ordered)")
                            if let probe = query.searchProbe {
                                // A short id prefix naming few ids: read by rowid like a narrow
                                // search, after the probe counts them in the id index's range.
                                let search = try plan(query.select(.search))
                                #expect(search.contains { $0.contains("SEARCH deliveries USING INTEGER PRIMARY KEY (rowid=?)") }, "\(label): \(search)")
                                #expect(search.contains { $0.contains("sqlite_autoindex_deliveries_1 (id") }, "\(label): \(search)")
                                #expect(!search.contains { $0.hasPrefix("SCAN ") }, "\(label): \(search)")
                                let counted = try plan(probe)
                                #expect(counted.contains { $0.contains("sqlite_autoindex_deliveries_1 (id") } && !counted.contains { $0.hasPrefix("SCAN deliveries") && !$0.contains("INDEX") }, "\(label): \(counted)")
                            }
                            if let sorted = query.sortedAccess, case .sorted(let index) = sorted, let probe = query.probe {
                                // The transient statuses' own partial index, read whole (fewer
                                // than sortCap rows, which the probe counts through it first).
                                for details in [try plan(query.select(sorted)), try plan(probe)] {
                                    #expect(details.contains { $0.contains("deliveries USING") && $0.contains("INDEX \(index)") }, "\(label): \(details)")
                                    #expect(!details.contains { $0.hasPrefix("SCAN deliveries") && !$0.contains("INDEX \(index)") }, "\(label): \(details)")
                                }
                            } else {
                                #expect(query.probe == nil && (status == .pending || status == .retrying || status == .inFlight ? query.isNarrowSearch : true), "\(label)")
                            }
                            checked += 1
                        }
                    }
                }
            }
        }
        #expect(checked == 6 * 8 * 4 * 5 * 2)
    }

    @Test func dueQueriesUseThePartialIndexes() throws {
        let directory = StateDirectory()
        let store = try directory.open()
        func plan(_ sql: String) throws -> String {
            try store.withDatabase { database in
                try database.withStatement("EXPLAIN QUERY PLAN " + sql) { statement in
                    var details: [String] = []
                    while try statement.step() { details.append(statement.string(at: 3)) }
                    return details.joined(separator: "; ")
                }
            }
        }
        let claim = try plan(
            """
            SELECT d.seq, b.body FROM deliveries AS d JOIN delivery_bodies AS b ON b.seq = d.seq
            WHERE d.pipeline = ?1 AND d.sink = ?2 AND d.status IN ('pending', 'retrying') AND d.next_attempt_at <= ?3
            ORDER BY d.next_attempt_at, d.seq LIMIT ?4
            """)
        #expect(claim.contains("USING INDEX deliveries_due_by_sink"), "\(claim)")
        #expect(claim.contains("SEARCH b USING INTEGER PRIMARY KEY"), "\(claim)")
        #expect(!claim.contains("TEMP B-TREE"), "\(claim)")
        let next = try plan(
            """
            SELECT next_attempt_at FROM deliveries
            WHERE pipeline = ?1 AND sink = ?2 AND status IN ('pending', 'retrying')
            ORDER BY next_attempt_at LIMIT 1
            """)
        #expect(next.contains("USING INDEX deliveries_due_by_sink (pipeline=? AND sink=?)"), "\(next)")
        #expect(!next.contains("TEMP B-TREE"), "\(next)")
        let record = try plan("UPDATE deliveries SET status = 'failed' WHERE id = ?1")
        #expect(record.contains("USING INDEX sqlite_autoindex_deliveries_1 (id=?)"), "\(record)")
        let rollups = try plan("SELECT start, pending, latency FROM rollups WHERE span = ?1 AND start >= ?2 AND start < ?3")
        #expect(rollups.contains("SEARCH rollups USING PRIMARY KEY (span=? AND start>? AND start<?)"), "\(rollups)")
    }

    // MARK: Concurrency

    @Test(arguments: [false, true])
    func concurrentClaimersNeverGetTheSameRow(separateConnections: Bool) throws {
        let directory = StateDirectory()
        let shared = try directory.open()
        let total = 2_000
        try shared.enqueue((1...total).map { delivery($0) }, checkpoint: nil, nowMs: 0)
        let stores = try separateConnections ? [directory.open(), directory.open()] : [shared, shared]
        let claims = Mutex<[[String]]>([[], []])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            do {
                // Bounded, so a claim that hands rows out twice fails the test instead of spinning.
                for _ in 0..<(total / 25 + 10) {
                    let batch = try stores[worker].claimDue(sinkKey: hooks, nowMs: 0, limit: 25)
                    if batch.isEmpty { break }
                    claims.withLock { $0[worker].append(contentsOf: batch.map(\.id)) }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let (first, second) = claims.withLock { ($0[0], $0[1]) }
        // Counts, not the id lists, so a failure reads in one line.
        let handedOutTwice = Set(first).intersection(second).count
        #expect(first.count + second.count == total)
        #expect(handedOutTwice == 0)
        #expect(Set(first + second).count == total)
        #expect(try shared.counts()[.inFlight] == total)
    }

    @Test func canonicalIDsAreStoredCompactlyAndOtherIDsAsText() throws {
        let canonical = canonicalID("x")
        #expect(DeliveryIDColumn.compact(canonical)?.count == 16)
        #expect(DeliveryIDColumn.compact(canonical.uppercased().replacingOccurrences(of: "WHD_", with: "whd_")) == nil)
        #expect(DeliveryIDColumn.compact("whd_123") == nil)
        #expect(DeliveryIDColumn.compact("evt_" + canonical.dropFirst(4)) == nil)
        // The raw bytes are the hex digits' own, in order; 36 bytes that are not 32 lowercase hex
        // digits (another letter, or multi-byte characters of the same UTF-8 length) stay text.
        #expect(DeliveryIDColumn.compact(canonical) == Hex.decode(canonical.dropFirst(4)))
        #expect(DeliveryIDColumn.compact("whd_00112233445566778899aabbccddeeff") == Array(0..<16).map { UInt8($0) * 0x11 })
        #expect(DeliveryIDColumn.compact("whd_" + String(repeating: "g", count: 32)) == nil)
        #expect(DeliveryIDColumn.compact("whd_" + String(repeating: "é", count: 16)) == nil)
        #expect(DeliveryIDColumn.compact("whd_" + canonical.dropFirst(5) + ":") == nil)

        let directory = StateDirectory()
        let store = try directory.open()
        // The same hex digits in upper case are a different id, kept as text, never merged.
        let upper = "whd_" + canonical.dropFirst(4).uppercased()
        var deliveries = [delivery(1), delivery(2), delivery(3)]
        deliveries[0].id = canonical
        deliveries[1].id = upper
        deliveries[2].id = "custom-id"
        #expect(try store.enqueue(deliveries, checkpoint: nil, nowMs: 0) == 3)
        #expect(try store.enqueue(deliveries, checkpoint: nil, nowMs: 0) == 0)
        let types = try store.withDatabase { database in
            try database.withStatement("SELECT typeof(id) FROM deliveries ORDER BY seq") { statement in
                var types: [String] = []
                while try statement.step() { types.append(statement.string(at: 0)) }
                return types
            }
        }
        #expect(types == ["blob", "text", "text"])
        #expect(try store.list(DeliveryQuery()).map(\.id) == ["custom-id", upper, canonical])
        #expect(try store.claimDue(sinkKey: hooks, nowMs: 0, limit: 10).map(\.id) == [canonical, upper, "custom-id"])
        #expect(try store.detail(id: canonical)?.0.eventID == "evt_1")
        #expect(try store.detail(id: upper)?.0.eventID == "evt_2")
    }

    @Test func recordFindsDeliveriesClaimedByAnotherStore() throws {
        let directory = StateDirectory()
        let runner = try directory.open()
        let other = try directory.open()
        try runner.enqueue([delivery(1)], checkpoint: nil, nowMs: 0)
        let claimed = try #require(try runner.claimDue(sinkKey: hooks, nowMs: 0, limit: 1).first)
        // `other` never claimed it, so it must find the row by id.
        try other.record([attempt(claimed, at: 0, durationMs: 40, httpStatus: 200, outcome: .succeeded)])
        let detail = try #require(try runner.detail(id: claimed.id))
        #expect(detail.0.status == .succeeded)
        #expect(detail.1.map(\.durationMs) == [40])
        #expect(try runner.stats(sinceMs: nil).first?.latencyP50Ms == 40)
    }

    // MARK: SQLite wrapper

    @Test func sqliteErrorsNameTheCodeMessageAndSQL() throws {
        let directory = StateDirectory()
        let database = try SQLiteDatabase(path: directory.path + ".db")
        defer { try? FileManager.default.removeItem(atPath: directory.path + ".db") }
        let error = #expect(throws: SQLiteError.self) { try database.makeStatement("SELEKT 1") }
        #expect(error?.code == 1)
        #expect(error?.description == #"SQLite error 1 (SQL logic error): near "SELEKT": syntax error [in: SELEKT 1]"#)

        try database.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)")
        try database.withStatement("INSERT INTO t VALUES (?1, ?2)") {
            try $0.bind("", at: 1)
            try $0.bind(bytes: [], at: 2)
            try $0.run()
        }
        let unique = #expect(throws: SQLiteError.self) {
            try database.withStatement("INSERT INTO t VALUES (?1, NULL)") {
                try $0.bind("", at: 1)
                try $0.run()
            }
        }
        #expect(unique?.extendedCode == 1555)  // SQLITE_CONSTRAINT_PRIMARYKEY
        // Empty text and blobs stay empty values, not NULL.
        let row = try database.withStatement("SELECT k IS NULL, v IS NULL, length(v), typeof(v) FROM t") { statement in
            try statement.step() ? [statement.string(at: 0), statement.string(at: 1), statement.string(at: 2), statement.string(at: 3)] : []
        }
        #expect(row == ["0", "0", "0", "blob"])
        // A transaction that throws leaves nothing behind.
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try database.transaction {
                try database.execute("INSERT INTO t VALUES ('x', x'00ff')")
                throw Abort()
            }
        }
        #expect(try database.scalarInt64("SELECT count(*) FROM t") == 1)
        #expect(database.isAutocommit)
    }
}
