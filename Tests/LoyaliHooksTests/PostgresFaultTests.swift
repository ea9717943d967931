import Foundation
import Testing

@testable import LoyaliHooks

// Real `serve` processes sharing one PostgreSQL store, under faults: a node killed with SIGKILL
// mid-delivery and started again, the database restarted under running nodes, and the read
// commands run against every node's store URL. Bounded: 2 s leases, short retry schedules, a
// receiver that holds each answer a moment so attempts are in flight when the fault strikes.

/// A throwaway PostgreSQL cluster of this test's own (`.ci/postgres-cluster`), for the tests that
/// stop and start the database: the one `.ci/with-postgres` started is shared by every other test.
final class PrivatePostgres {
    let directory: String
    private(set) var url = ""

    /// Under `.ci/with-postgres`, clusters live in a folder it destroys at the end: the server
    /// `pg_ctl` starts is not the test's child, so it would outlive a test process that died.
    static let parent = ProcessInfo.processInfo.environment["LOYALI_HOOKS_TEST_CLUSTERS"].flatMap { $0.isEmpty ? nil : $0 + "/" }
        ?? NSTemporaryDirectory()

    init() throws {
        directory = Self.parent + "loyali-pg-\(UUID().uuidString.prefix(8))"
        url = try Self.control("start", directory)
    }

    deinit { _ = try? Self.control("destroy", directory) }

    /// Stops the server (fast shutdown: every session is cut, as in a restart).
    func stop() throws { try Self.control("stop", directory) }

    /// Starts it again on the same data.
    func start() throws { try Self.control("start", directory) }

    @discardableResult
    private static func control(_ action: String, _ directory: String) throws -> String {
        // Output to a file, not a pipe: the server pg_ctl starts would inherit the pipe and keep
        // it open, so reading it to the end would never finish.
        let outputURL = URL(fileURLWithPath: NSTemporaryDirectory() + "loyali-pg-ctl-\(UUID().uuidString)")
        try Data().write(to: outputURL)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [CLI.packageRoot.appendingPathComponent(".ci/postgres-cluster").path, action, directory]
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.runTiedToTests()
        process.waitUntilExit()
        let text = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else { throw CLITestError(description: "postgres-cluster \(action) failed (\(process.terminationStatus))") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// `serve` nodes on one PostgreSQL store, each with its own ingest and admin port and pipelines
/// folder, all signing for one verifying receiver.
final class ServeCluster {
    static let secret = "whsec_Y2x1c3Rlci1mYXVsdC10ZXN0LXNlY3JldA=="
    static let token = "cluster-ingest-token"
    static let adminToken = "cluster-admin-token-0123456789abcdef"
    static let pipeline = "cluster"
    static let sink = "hook"

    final class Node {
        let name: String
        let storeURL: String
        let environment: [String: String]
        let ingestPort: Int
        let adminPort: Int
        let directory: String
        var process: ChildProcess?
        /// Logs of the node's earlier lives (killed or stopped).
        var pastLogs = ""

        init(name: String, storeURL: String, environment: [String: String], receiverPort: Int, in root: String) throws {
            self.name = name
            self.storeURL = storeURL
            self.environment = environment
            ingestPort = try ChildProcess.freePort()
            adminPort = try ChildProcess.freePort()
            directory = root + "/" + name
            try FileManager.default.createDirectory(atPath: directory + "/pipelines", withIntermediateDirectories: true)
            try """
                pipeline: \(ServeCluster.pipeline)
                source: { type: http, listen: "127.0.0.1:\(ingestPort)", path: /events, token: "${INGEST_TOKEN}" }
                sign: { secrets: ["${SECRET}"] }
                sinks:
                  \(ServeCluster.sink):
                    type: http
                    url: "http://127.0.0.1:\(receiverPort)/hook"
                    timeout: 5s
                    max_in_flight: 8
                    retry: { schedule: [0s, 100ms, 200ms, 300ms, 500ms, 500ms, 1s, 1s, 1s, 1s, 1s, 1s] }
                """.write(toFile: directory + "/pipelines/cluster.yaml", atomically: true, encoding: .utf8)
        }

        func start() throws {
            process = try ChildProcess(
                [
                    "serve", "pipelines", "--store", storeURL, "--node-id", name, "--lease", "2s", "--state", "state",
                    "--admin", "127.0.0.1:\(adminPort)", "--grace", "500ms", "--no-watch",
                ], environment: environment, directory: directory)
        }

        /// SIGKILL, and waits for the process to be gone.
        func kill9() {
            guard let process else { return }
            process.process.sendSignal(SIGKILL)
            process.process.waitUntilExit()
            pastLogs += process.errors
            self.process = nil
        }

        func stop() {
            guard let process else { return }
            _ = process.stop(with: SIGTERM, within: 15)
            process.process.sendSignal(SIGKILL)
            process.process.waitUntilExit()
            pastLogs += process.errors
            self.process = nil
        }

        var logs: String { pastLogs + (process?.errors ?? "") }

        /// The status of GET /readyz, or `nil` when nothing answers.
        func readiness() -> Int? {
            try? TestConnection(port: adminPort, timeoutSeconds: 5).request("GET", "/readyz").status
        }

        /// POSTs `lines` as one NDJSON batch; the status, or `nil` when the node does not answer.
        func post(_ lines: [String]) -> Int? {
            let body = Array((lines.joined(separator: "\n") + "\n").utf8)
            let headers = [("Content-Type", "application/x-ndjson"), ("Authorization", "Bearer \(ServeCluster.token)")]
            return try? TestConnection(port: ingestPort, timeoutSeconds: 10).request("POST", "/events", headers: headers, body: body).status
        }

        /// An admin API GET with the admin token.
        func api(_ path: String) throws -> TestResponse {
            try TestConnection(port: adminPort, timeoutSeconds: 10).request(
                "GET", path, headers: [("Authorization", "Bearer \(ServeCluster.adminToken)")])
        }
    }

    let root: TemporaryDirectory
    let receiver: VerifyingReceiver
    let nodes: [Node]
    /// Event ids whose batch was answered 202.
    private(set) var acknowledged: [String] = []
    private var nextEvent = 0

    /// Nodes named `names`, the n-th on `storeURLs[n % count]` (the same database by different
    /// URLs, e.g. the unix socket and TCP with a password from the environment).
    init(names: [String], storeURLs: [String], environment: [String: String] = [:], receiverDelay: Double) throws {
        let root = try TemporaryDirectory()
        let receiver = try VerifyingReceiver(secret: Self.secret, delay: receiverDelay, directory: root.url)
        let base = ["INGEST_TOKEN": Self.token, "SECRET": Self.secret, "LOYALI_HOOKS_ADMIN_TOKEN": Self.adminToken].merging(environment) { $1 }
        nodes = try names.enumerated().map { index, name in
            try Node(name: name, storeURL: storeURLs[index % storeURLs.count], environment: base, receiverPort: receiver.port, in: root.url.path)
        }
        self.root = root
        self.receiver = receiver
        for node in nodes { try node.start() }
        for node in nodes { try waitUntilReady(node) }
    }

    deinit {
        for node in nodes { node.stop() }
    }

    func waitUntilReady(_ node: Node, seconds: Double = 30) throws {
        guard eventually(seconds: seconds, { node.readiness() == 200 }) else {
            throw CLITestError(description: "\(node.name) not ready within \(seconds) s:\n\(node.logs)")
        }
    }

    /// Posts a batch of `count` new events to `node`; returns the status (`nil`: no answer). The
    /// events count as acknowledged only on a 202.
    @discardableResult
    func post(_ count: Int, to node: Node) -> Int? {
        let ids = (0..<count).map { _ in
            nextEvent += 1
            return "evt_cluster_\(nextEvent)"
        }
        let status = node.post(ids.map { eventLine($0) })
        if status == 202 { acknowledged += ids }
        return status
    }

    /// The delivery id of every acknowledged event.
    var acknowledgedDeliveries: Set<String> {
        Set(acknowledged.map { DeliveryID.make(eventID: $0, pipeline: Self.pipeline, sink: Self.sink) })
    }

    /// Waits until the receiver has answered 200 to every acknowledged delivery.
    func waitUntilDelivered(seconds: Double = 60) -> Bool {
        let wanted = acknowledgedDeliveries
        return eventually(seconds: seconds) {
            let received = Set(receiver.requests.filter { $0.status == 200 }.map(\.id))
            return wanted.isSubset(of: received)
        }
    }

    /// Every attempt in the log: delivery id, attempt number, node, start, duration, error class.
    static func attemptLog(_ url: String) throws -> [(id: String, attempt: Int, node: String, startMs: Int64, durationMs: Int64, errorClass: String?)] {
        let connection = try PostgresTestServer.connect(url)
        let result = try connection.query(
            """
            SELECT d.id, a.attempt::bigint, coalesce(a.node, ''), a.started_at, a.duration_ms, a.error_class
            FROM attempts AS a JOIN deliveries AS d ON d.seq = a.delivery_seq ORDER BY d.id, a.attempt
            """)
        return try (0..<result.rowCount).map { row in
            (
                try result.string(row, 0), Int(try result.int64(row, 1)), try result.string(row, 2), try result.int64(row, 3),
                try result.int64(row, 4), try result.optionalString(row, 5)
            )
        }
    }

    /// Pairs of attempts at one delivery by two different nodes whose times overlap. Interrupted
    /// attempts are left out: they are the log's note that a dead node's attempt was cut off, not
    /// a send by a live node.
    static func overlappingAttempts(_ url: String) throws -> [String] {
        let attempts = try attemptLog(url).filter { $0.errorClass != AttemptRecord.interruptedErrorClass }
        var overlaps: [String] = []
        for (id, group) in Dictionary(grouping: attempts, by: \.id) {
            for (i, a) in group.enumerated() {
                for b in group[(i + 1)...] where a.node != b.node {
                    if a.startMs < b.startMs + b.durationMs, b.startMs < a.startMs + a.durationMs {
                        overlaps.append("\(id): attempt \(a.attempt) by \(a.node) and \(b.attempt) by \(b.node)")
                    }
                }
            }
        }
        return overlaps
    }
}

@Suite(
    "serve nodes on PostgreSQL under faults", .serialized,
    .enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason),
    .enabled(if: CLI.binary != nil, "the loyali-hooks binary is not built"))
struct PostgresFaultTests {
    @Test("a node killed with SIGKILL mid-delivery and restarted: every acknowledged event delivered, signed; duplicates only of what it had in flight; no two live nodes at once")
    func killedNode() throws {
        let url = try PostgresTestServer.freshDatabase()
        // Node b reaches the same database over TCP, its password from the environment.
        let tcp = PostgresTestServer.tcpURL.map { PostgresTestServer.url($0, database: String(url[url.index(after: url.lastIndex(of: "/")!)...])) }
        let cluster = try ServeCluster(
            names: ["node-a", "node-b", "node-c"], storeURLs: [url] + (tcp.map { [$0] } ?? []),
            environment: ["PGPASSWORD": PostgresTestServer.password ?? ""], receiverDelay: 0.15)
        let (a, b, c) = (cluster.nodes[0], cluster.nodes[1], cluster.nodes[2])
        let database = try PostgresTestServer.connect(url)
        func inFlight(_ node: String) throws -> Int64 {
            try database.query("SELECT count(*) FROM deliveries WHERE status = 'in_flight' AND lease_owner = $1", [.text(node)]).int64(0, 0)
        }
        // Posts to `node` until it holds deliveries (the others may take a batch first). Bounded.
        func holdsDeliveries(_ node: ServeCluster.Node) throws -> Bool {
            for _ in 0..<60 {
                #expect(cluster.post(4, to: node) == 202)
                if try eventually(seconds: 0.5, { try inFlight(node.name) > 0 }) { return true }
            }
            return false
        }
        for round in 0..<6 {
            for node in cluster.nodes { #expect(cluster.post(5, to: node) == 202, "round \(round) on \(node.name)") }
        }
        // Kill a while it holds deliveries.
        #expect(try holdsDeliveries(a), "node-a never held a delivery")
        a.kill9()
        #expect(a.post(["{}"]) == nil, "a killed node answers nothing")
        // The others keep taking events meanwhile.
        for _ in 0..<4 {
            #expect(cluster.post(5, to: b) == 202)
            #expect(cluster.post(5, to: c) == 202)
        }
        // Its leases run out (2 s) and b or c take its deliveries; then it comes back.
        #expect(try eventually(seconds: 20) { try inFlight("node-a") == 0 })
        try a.start()
        try cluster.waitUntilReady(a)
        for node in cluster.nodes { #expect(cluster.post(5, to: node) == 202) }
        // Kill it again at once, before its leases could run out, and start it with the same id:
        // it takes its own deliveries back at start-up.
        #expect(try holdsDeliveries(a), "node-a never held a delivery after its restart")
        a.kill9()
        try a.start()
        try cluster.waitUntilReady(a)
        #expect(cluster.post(5, to: a) == 202)

        #expect(cluster.waitUntilDelivered(), "every acknowledged event arrives")
        #expect(try eventually(seconds: 20) {
            try database.query("SELECT count(*) FROM deliveries WHERE status <> 'succeeded'").int64(0, 0) == 0
        })
        let requests = cluster.receiver.requests
        #expect(requests.allSatisfy { $0.signed }, "every request carries a valid signature")
        #expect(Set(requests.map(\.id)) == cluster.acknowledgedDeliveries, "nothing unacknowledged, nothing missing")
        // Sent twice only if node-a was cut off while holding it (an interrupted attempt of its).
        let cutOff = Set(try ServeCluster.attemptLog(url).filter { $0.errorClass == AttemptRecord.interruptedErrorClass }.map { entry in
            #expect(entry.node == "node-a", "only the killed node's attempts are cut off: \(entry)")
            return entry.id
        })
        #expect(!cutOff.isEmpty, "node-a was killed holding deliveries; the log says which were cut off")
        let sentTwice = Dictionary(grouping: requests, by: \.id).filter { $0.value.count > 1 }.keys
        #expect(Set(sentTwice).isSubset(of: cutOff), "duplicates beyond what node-a had in flight: \(Set(sentTwice).subtracting(cutOff))")
        #expect(Set(sentTwice).count <= 2 * 8, "at most max_in_flight (8) per life of node-a that was killed")
        // The log tells what may have been sent, not what was claimed: per life, the attempts in
        // flight and those marked started ahead of a free slot, max_in_flight each.
        #expect(cutOff.count <= 2 * (8 + 8), "\(cutOff.count) attempts logged interrupted for two lives of node-a")
        #expect(try ServeCluster.overlappingAttempts(url) == [])
        // b and c shared the work: the database is the coordinator, nothing else.
        let byNode = Dictionary(grouping: try ServeCluster.attemptLog(url), by: \.node).mapValues(\.count)
        #expect((byNode["node-b"] ?? 0) > 0 && (byNode["node-c"] ?? 0) > 0, "\(byNode)")

        // Read commands agree, whichever node's store URL they are given.
        try Self.expectReadCommandsAgree(cluster)
    }

    @Test("PostgreSQL restarted under running nodes: 503 and not ready while it is down, reconnected after, nothing lost")
    func databaseRestart() throws {
        let postgres = try PrivatePostgres()
        let cluster = try ServeCluster(names: ["node-a", "node-b"], storeURLs: [postgres.url], receiverDelay: 0.3)
        for _ in 0..<4 {
            for node in cluster.nodes { #expect(cluster.post(5, to: node) == 202) }
        }
        // Down while attempts are in flight (the receiver holds each 0.3 s).
        #expect(eventually(seconds: 20) { cluster.receiver.requests.count > 0 })
        try postgres.stop()
        for node in cluster.nodes {
            // Never 202 while the store cannot commit; /readyz says so.
            #expect(eventually(seconds: 10) { node.readiness() == 503 }, "\(node.name) /readyz while the database is down")
            var statuses: [Int?] = []
            for _ in 0..<3 { statuses.append(cluster.post(3, to: node)) }
            #expect(statuses.allSatisfy { $0 == 503 }, "\(node.name) ingest while the database is down: \(statuses)")
        }
        Thread.sleep(forTimeInterval: 1)
        try postgres.start()
        for node in cluster.nodes {
            #expect(eventually(seconds: 20) { node.readiness() == 200 }, "\(node.name) ready again")
        }
        for node in cluster.nodes { #expect(cluster.post(5, to: node) == 202) }
        #expect(cluster.waitUntilDelivered(), "every acknowledged event arrives")
        let database = try PostgresTestServer.connect(postgres.url)
        #expect(try eventually(seconds: 30) {
            try database.query("SELECT count(*) FROM deliveries WHERE status <> 'succeeded'").int64(0, 0) == 0
        }, "every delivery settles")
        let requests = cluster.receiver.requests
        #expect(requests.allSatisfy { $0.signed })
        #expect(Set(requests.map(\.id)) == cluster.acknowledgedDeliveries)
        // Each answer the receiver gave, attempt by attempt, is in the log: the attempts in
        // flight while the database was down were recorded once it was back.
        let logged = Set(try ServeCluster.attemptLog(postgres.url).filter { $0.errorClass == nil }.map { "\($0.id) \($0.attempt)" })
        let answered = Set(requests.map { "\($0.id) \($0.attempt)" })
        #expect(answered.subtracting(logged).isEmpty, "answered but never recorded: \(answered.subtracting(logged).sorted().prefix(5))")
        #expect(try ServeCluster.overlappingAttempts(postgres.url) == [])
        try Self.expectReadCommandsAgree(cluster)
    }

    /// `deliveries`, `deliveries show`, `stats` and `store status` print the same on every node's
    /// store URL (the URLs may differ: socket or TCP), and the nodes' admin APIs answer the same.
    static func expectReadCommandsAgree(_ cluster: ServeCluster, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let sample = try #require(cluster.acknowledgedDeliveries.sorted().first)
        let commands = [
            ["deliveries", "--json", "--limit", "1000"], ["deliveries", "show", sample, "--json"], ["stats", "--json"],
            ["store", "status", "--json"],
        ]
        for command in commands {
            var outputs: [String: String] = [:]
            for node in cluster.nodes {
                let result = try CLI.run(command + ["--store", node.storeURL], environment: node.environment)
                #expect(result.status == 0, "\(command) on \(node.name): \(result.stderr)", sourceLocation: sourceLocation)
                // `store status` names the URL it was given (password hidden); the rest agrees.
                outputs[node.name] = result.stdout.replacingOccurrences(of: #""location":"[^"]*""#, with: "", options: .regularExpression)
            }
            #expect(Set(outputs.values).count == 1, "\(command) differs between nodes: \(outputs)", sourceLocation: sourceLocation)
        }
        for path in ["/api/deliveries?limit=1000", "/api/deliveries/\(sample)", "/api/stats"] {
            let answers = try cluster.nodes.map { try $0.api(path) }
            #expect(answers.allSatisfy { $0.status == 200 }, "\(path): \(answers.map(\.status))", sourceLocation: sourceLocation)
            #expect(Set(answers.map(\.text)).count == 1, "\(path) differs between nodes", sourceLocation: sourceLocation)
        }
    }
}
