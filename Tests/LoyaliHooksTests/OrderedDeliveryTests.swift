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
