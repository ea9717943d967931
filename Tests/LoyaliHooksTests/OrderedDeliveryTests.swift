import Foundation
import Synchronization
import Testing
@testable import LoyaliHooks

/// A sink that answers each attempt a little later, on another thread, failing the first attempt
/// of chosen events, and records per key what was in flight at once and in which order.
final class KeyOrderSink: ConcurrentSink, @unchecked Sendable {
    // All mutable state is inside the Mutex; `arrived` is thread-safe.
    struct Arrival: Equatable {
        var seq: Int
        var key: String?
        var attempt: Int
    }

    let kind = "keyorder"
    let target = "keyorder://test"
    let maxInFlight = 16
    var requiresSignature: Bool { true }
    let failFirst: Set<Int>
    private struct State {
        var arrivals: [Arrival] = []
        var inFlight: [String: Int] = [:]
        var mostInFlightPerKey = 0
    }
    private let state = Mutex(State())
    let arrived = Wakeup()

    init(failFirst: Set<Int>) { self.failFirst = failFirst }

    func send(_ request: DeliveryRequest, completion: @escaping @Sendable (AttemptResult) -> Void) {
        let data = (try? JSONParser.parse(request.body))?.objectValue?["data"]?.objectValue
        var seq = -1
        if case .number(let number)? = data?["seq"], let value = number.int64Value { seq = Int(value) }
        let key = data?["customer_id"]?.stringValue
        state.withLock { state in
            state.arrivals.append(Arrival(seq: seq, key: key, attempt: request.attempt))
            if let key {
                state.inFlight[key, default: 0] += 1
                state.mostInFlightPerKey = max(state.mostInFlightPerKey, state.inFlight[key]!)
            }
        }
        let fails = failFirst.contains(seq) && request.attempt == 1
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(3)) { [self] in
            if let key { state.withLock { $0.inFlight[key]! -= 1 } }
            completion(.httpStatus(fails ? 500 : 200, retryAfter: nil, snippet: ""))
            arrived.signal()
        }
    }

    func deliver(_ request: DeliveryRequest) throws(DeliveryFailure) {}

    var arrivals: [Arrival] { state.withLock { $0.arrivals } }
    var mostInFlightPerKey: Int { state.withLock { $0.mostInFlightPerKey } }

    /// Waits (bounded in real time) until `condition` holds for the arrivals.
    func wait(seconds: Double = 10, until condition: ([Arrival]) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !condition(arrivals) {
            guard Date() < deadline else { return false }
            arrived.wait(until: min(deadline, Date(timeIntervalSinceNow: 0.02)))
        }
        return true
    }
}

@Suite("Ordered delivery: one at a time per key, in source order", .serialized)
struct OrderedDeliveryTests {
    /// 30 events over keys k0, k1, k2 (seq % 3), and every tenth without a key.
    static let events: [String] = (0..<30).map { seq in
        let key = seq % 10 == 9 ? "" : #","customer_id":"k\#(seq % 3)""#
        return #"{"id":"evt_o\#(seq)","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{"seq":\#(seq)\#(key)}}"#
    }

    static let yaml = """
        pipeline: ordered
        source: { type: file, path: "${EVENTS}" }
        sign: { secrets: ["${SECRET}"] }
        sinks:
          hook: { type: keyorder, ordering: { key: data.customer_id }, retry: { schedule: [0s, 1m, 5m] } }
        """

    @Test("a retrying head holds its key's followers; other keys and unkeyed events go on; order holds per key")
    func orderUnderRetries() throws {
        let harness = try RunnerHarness(events: Self.events)
        // k0's head (seq 0) and k1's fourth (seq 10) fail their first attempt.
        let sink = KeyOrderSink(failFirst: [0, 10])
        var registry = StageRegistry.builtIn
        registry.register(SinkFactory(kind: "keyorder", summary: "test", keys: []) { _, _, _ in sink })
        let loader = PipelineLoader(environment: ["SECRET": "whsec_order_test", "EVENTS": harness.eventsPath], registry: registry)
        let (loaded, diagnostics) = loader.load(file: "ordered.yaml", text: Self.yaml)
        let pipeline = try #require(loaded?.0, "\(diagnostics.map(\.headline))")
        let (runner, done, _) = harness.start([pipeline], mode: .follow)
        defer {
            runner.requestStop()
            done.wait(until: Date(timeIntervalSinceNow: 5))
        }
        let k2 = Set(Self.events.indices.filter { $0 % 3 == 2 && $0 % 10 != 9 })
        let unkeyed: Set<Int> = [9, 19, 29]
        // k2 and the unkeyed events all arrive while k0's head waits a minute for its retry.
        #expect(sink.wait { arrivals in k2.union(unkeyed).isSubset(of: Set(arrivals.map(\.seq))) })
        #expect(sink.wait { arrivals in arrivals.contains { $0.seq == 10 } })
        Thread.sleep(forTimeInterval: 0.1)
        let before = sink.arrivals
        #expect(before.filter { $0.key == "k0" }.map(\.seq) == [0], "k0's followers wait behind its retrying head")
        #expect(before.filter { $0.key == "k1" }.map(\.seq) == [1, 4, 7, 10], "k1 went on until its own head failed")
        // The retries come due: everything arrives, in order per key.
        harness.clock.advance(byMs: 60_000)
        #expect(sink.wait { $0.count == 32 })
        let arrivals = sink.arrivals
        for key in ["k0", "k1", "k2"] {
            let seqs = arrivals.filter { $0.key == key }.map(\.seq)
            let expected = Self.events.indices.filter { $0 % 3 == Int(key.dropFirst())! && $0 % 10 != 9 }
            let firstRetried = key == "k0" ? [0, 0] : key == "k1" ? [10, 10] : []
            #expect(seqs == Array(expected.prefix { !firstRetried.contains($0) }) + firstRetried + expected.filter { $0 > (firstRetried.first ?? .max) }, "\(key): \(seqs)")
        }
        #expect(sink.mostInFlightPerKey == 1, "one attempt at a time per key")
    }

    /// An event of `seq` with key `key` (none when `nil`), for files written in steps.
    static func event(_ seq: Int, _ key: String?, prefix: String = "evt_o") -> String {
        let field = key.map { #","customer_id":"\#($0)""# } ?? ""
        return #"{"id":"\#(prefix)\#(seq)","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{"seq":\#(seq)\#(field)}}"#
    }

    /// Appends `lines` to the file at `path`.
    static func append(_ lines: [String], to path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// Loads the test pipeline over `sink`, reading `events`.
    static func pipeline(_ sink: KeyOrderSink, events: String, yaml: String = Self.yaml) throws -> PipelineDefinition {
        var registry = StageRegistry.builtIn
        registry.register(SinkFactory(kind: "keyorder", summary: "test", keys: []) { _, _, _ in sink })
        let loader = PipelineLoader(environment: ["SECRET": "whsec_order_test", "EVENTS": events], registry: registry)
        let (loaded, diagnostics) = loader.load(file: "ordered.yaml", text: yaml)
        return try #require(loaded?.0, "\(diagnostics.map(\.headline))")
    }

    @Test("followers ingested while their head waits for its retry go after it, in order; heads of idle keys go at once")
    func followersIngestedBehindARetryingHead() throws {
        // k0's head fails its first attempt; k1's events flow meanwhile.
        let harness = try RunnerHarness(events: [Self.event(0, "k0"), Self.event(1, "k1")])
        let sink = KeyOrderSink(failFirst: [0])
        let (runner, done, _) = harness.start([try Self.pipeline(sink, events: harness.eventsPath)], mode: .follow)
        defer {
            runner.requestStop()
            done.wait(until: Date(timeIntervalSinceNow: 5))
        }
        #expect(sink.wait { Set($0.map(\.seq)).isSuperset(of: [0, 1]) })
        #expect(harness.waitForCounts { $0[.retrying] == 1 })
        // Followers of both keys arrive while k0's head waits a minute for its retry.
        try Self.append((2..<20).map { Self.event($0, "k\($0 % 2)") }, to: harness.eventsPath)
        let k1 = Set((1..<20).filter { $0 % 2 == 1 })
        #expect(sink.wait { k1.isSubset(of: Set($0.map(\.seq))) })
        Thread.sleep(forTimeInterval: 0.05)
        #expect(sink.arrivals.filter { $0.key == "k0" }.map(\.seq) == [0], "k0's followers wait behind its retrying head")
        #expect(sink.arrivals.filter { $0.key == "k1" }.map(\.seq) == k1.sorted())
        harness.clock.advance(byMs: 60_000)
        #expect(sink.wait { $0.count >= 21 })
        #expect(sink.arrivals.filter { $0.key == "k0" }.map(\.seq) == [0] + (0..<20).filter { $0 % 2 == 0 })
        #expect(sink.mostInFlightPerKey == 1, "one attempt at a time per key")
        #expect(harness.waitForCounts { $0[.succeeded] == 20 })
    }

    @Test("a restart in the middle of keys keeps their order: the retrying head first, then its followers")
    func restartMidKey() throws {
        let events = (0..<12).map { Self.event($0, "k\($0 % 3)") }
        let harness = try RunnerHarness(events: events)
        // k0's head fails once: at the stop, it waits for its retry with k0's followers behind it.
        let sink = KeyOrderSink(failFirst: [0])
        let pipeline = try Self.pipeline(sink, events: harness.eventsPath)
        let (first, firstDone, _) = harness.start([pipeline], mode: .follow)
        #expect(sink.wait { arrivals in Set(arrivals.map(\.seq)).isSuperset(of: (0..<12).filter { $0 % 3 != 0 } + [0]) })
        first.requestStop()
        #expect(firstDone.wait(until: Date(timeIntervalSinceNow: 5)))
        #expect(sink.arrivals.filter { $0.key == "k0" }.map(\.seq) == [0])
        // A new runner on the same store, with more of every key ingested after the restart.
        try Self.append((12..<18).map { Self.event($0, "k\($0 % 3)") }, to: harness.eventsPath)
        let (second, secondDone, _) = harness.start([pipeline], mode: .follow)
        defer {
            second.requestStop()
            secondDone.wait(until: Date(timeIntervalSinceNow: 5))
        }
        #expect(sink.wait { arrivals in Set(arrivals.map(\.seq)).isSuperset(of: (12..<18).filter { $0 % 3 != 0 }) })
        #expect(sink.arrivals.filter { $0.key == "k0" }.map(\.seq) == [0], "k0's followers still wait for its head")
        harness.clock.advance(byMs: 60_000)
        #expect(sink.wait { $0.count >= 19 })
        for key in 0..<3 {
            let seqs = sink.arrivals.filter { $0.key == "k\(key)" }.map(\.seq)
            let expected = (0..<18).filter { $0 % 3 == key }
            #expect(seqs == (key == 0 ? [0] + expected : expected), "k\(key): \(seqs)")
        }
        #expect(sink.mostInFlightPerKey == 1)
    }

    @Test(
        "two nodes on PostgreSQL storing and sending one sink's keys at once: one at a time per key, in store order",
        .enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func twoNodesOnPostgres() throws {
        let url = try PostgresTestServer.freshDatabase()
        let directory = NSTemporaryDirectory() + "loyali-ordered-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Each node reads its own file of the same pipeline and sink; the keys are shared.
        let sink = KeyOrderSink(failFirst: [3, 1_004])
        var runners: [(DeliveryRunner, Wakeup)] = []
        defer {
            for (runner, done) in runners {
                runner.requestStop()
                done.wait(until: Date(timeIntervalSinceNow: 5))
            }
        }
        for (node, first) in [("node-a", 0), ("node-b", 1_000)] {
            let path = "\(directory)/\(node).jsonl"
            try ((first..<first + 150).map { Self.event($0, "k\($0 % 5)") }.joined(separator: "\n") + "\n")
                .write(toFile: path, atomically: true, encoding: .utf8)
            let yaml = Self.yaml.replacingOccurrences(of: "[0s, 1m, 5m]", with: "[0s, 50ms, 5m]")
            var options = DeliveryRunner.Options()
            options.mode = .follow
            let runner = DeliveryRunner(
                pipelines: [try Self.pipeline(sink, events: path, yaml: yaml)],
                store: try PostgresDeliveryStore(url: url, options: StoreOptions(nodeID: node)), clock: SystemClock(), options: options,
                logger: Logger(format: .logfmt) { _ in })
            let done = Wakeup()
            Thread.detachNewThread {
                _ = try? runner.run()
                done.signal()
            }
            runners.append((runner, done))
        }
        #expect(sink.wait(seconds: 30) { $0.count >= 302 })
        #expect(sink.mostInFlightPerKey == 1, "one attempt at a time per key, across both nodes")
        // Per key, the attempts went in the order the store holds the deliveries in.
        let reader = try PostgresDeliveryStore(url: url, options: StoreOptions(nodeID: "reader"))
        let stored = try reader.list(DeliveryQuery(limit: 1_000)).reversed().map { Int($0.eventID.dropFirst(5))! }
        #expect(stored.count == 300)
        let arrivals = sink.arrivals
        for key in 0..<5 {
            var sent: [Int] = []
            for arrival in arrivals where arrival.key == "k\(key)" && sent.last != arrival.seq { sent.append(arrival.seq) }
            #expect(sent == stored.filter { $0 % 5 == key }, "k\(key)")
        }
    }

    @Test("SQLite: writes of ordered rows and the key probes build no temporary b-tree, and the probes read the unsettled-by-key index")
    func sqliteOrderedStatementsStayCheap() throws {
        let directory = NSTemporaryDirectory() + "loyali-ordered-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteDeliveryStore(directory: directory)
        func explain(_ sql: String, plan: Bool = false) throws -> [String] {
            try store.withDatabase { database in
                try database.withStatement((plan ? "EXPLAIN QUERY PLAN " : "EXPLAIN ") + sql) { statement in
                    var lines: [String] = []
                    while try statement.step() { lines.append(statement.string(at: plan ? 3 : 1)) }
                    return lines
                }
            }
        }
        // SQLite checks the partial index's condition on every write of an ordered row; an IN
        // list of three statuses there (or in a probe) is a temporary b-tree, a page allocated,
        // zeroed and freed, each time.
        let statements = [
            ("ingest", SQLiteDeliveryStore.insertDeliverySQL), ("claim", SQLiteDeliveryStore.claimRowSQL),
            ("record", SQLiteDeliveryStore.updateAfterAttemptSQL), ("claim scan", SQLiteDeliveryStore.selectDueSQL),
            ("ingest probe", SQLiteDeliveryStore.unsettledProbeSQL), ("head", SQLiteDeliveryStore.keyHeadSQL),
        ]
        for (name, sql) in statements {
            #expect(!(try explain(sql)).contains("OpenEphemeral"), "\(name)")
        }
        for (name, sql) in statements.suffix(3) {
            let plan = try explain(sql, plan: true)
            #expect(plan.contains { $0.contains("USING COVERING INDEX deliveries_unsettled_by_key") || $0.contains("USING INDEX deliveries_unsettled_by_key") }, "\(name): \(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(name): \(plan)")
        }
    }

    @Test("the key: a string as is, other values as JSON, a missing path or null none, a long one its digest")
    func keys() throws {
        let ordering = try DeliveryOrdering.compile("data.customer.id").get()
        func envelope(_ data: String) throws -> EventEnvelope {
            let line = Array(#"{"id":"evt_k","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":\#(data)}"#.utf8)
            return try line.withUnsafeBufferPointer { try InputEventDecoder(ingestTime: "").decode($0, number: 1) }
        }
        #expect(ordering.key(for: try envelope(#"{"customer":{"id":"c_1"}}"#)) == "c_1")
        #expect(ordering.key(for: try envelope(#"{"customer":{"id":42}}"#)) == "42")
        #expect(ordering.key(for: try envelope(#"{"customer":{"id":[1,"a"]}}"#)) == #"[1,"a"]"#)
        #expect(ordering.key(for: try envelope(#"{"customer":{"id":null}}"#)) == nil)
        #expect(ordering.key(for: try envelope(#"{"customer":{}}"#)) == nil)
        #expect(ordering.key(for: try envelope(#"{"other":1}"#)) == nil)
        let long = String(repeating: "x", count: 200)
        #expect(ordering.key(for: try envelope(#"{"customer":{"id":"\#(long)"}}"#)) == "sha256:" + Hex.encode(SHA256Digest.hash(long)))
        #expect(try DeliveryOrdering.compile("event_type").get().key(for: try envelope("{}")) == "points.earned")
    }

    @Test("ordering mistakes are errors at path:line:col")
    func configErrors() {
        let loader = PipelineLoader(environment: ["SECRET": "whsec_order_test"])
        func errors(_ ordering: String) -> [String] {
            let (_, diagnostics) = loader.load(file: "ordered.yaml", text: """
                pipeline: ordered
                source: { type: stdin }
                sinks:
                  out: { type: stdout, ordering: \(ordering) }
                """)
            return diagnostics.filter { $0.severity == .error }.map(\.headline)
        }
        #expect(errors("{ key: data.customer_id }").isEmpty)
        let expression = errors(#"{ key: "data.a == 1" }"#)
        #expect(expression.contains { $0.contains("ordered.yaml:4:") && $0.contains("ordering.key must be a path into the event") }, "\(expression)")
        let root = errors("{ key: dta.customer_id }")
        #expect(root.contains { $0.hasSuffix("ordered.yaml:4:41: error: ordering.key: unknown name 'dta': a path starts at data, event_type or created_at, and a string needs quotes; did you mean 'data'?") }, "\(root)")
        let misspelt = errors("{ kye: data.customer_id }")
        #expect(misspelt.contains { $0.contains("ordered.yaml:4:") && $0.contains("kye") }, "\(misspelt)")
        #expect(errors("data.customer_id").contains { $0.contains("ordered.yaml:4:") }, "a bare path is not the mapping")
    }
}
