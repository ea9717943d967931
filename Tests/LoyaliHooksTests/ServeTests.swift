import Foundation
import Synchronization
import Testing

@testable import LoyaliHooks

// Tests of `serve` (HTTP ingest, group commit, admin API, metrics, reload, shutdown) and `listen`.
// Everything runs on loopback with ports picked by the kernel; every wait is bounded.

// MARK: - A raw HTTP/1.1 client

/// One response as read off the socket (only our own server's output is parsed here).
struct TestResponse {
    var status: Int
    /// Header fields with lowercased names.
    var headers: [String: String]
    var body: [UInt8]
    /// Every `Set-Cookie` value, in order (``headers`` keeps only the last).
    var cookies: [String] = []

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONObject? { (try? JSONParser.parse(body))?.objectValue }
}

struct TestHTTPError: Error, CustomStringConvertible {
    var description: String
}

/// A blocking loopback connection that can carry several requests (keep-alive, pipelining).
final class TestConnection {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestHTTPError(description: "socket: \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            close(fd)
            throw TestHTTPError(description: "connect to \(port): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestHTTPError(description: "send: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// The bytes of a request with `Host` and `Content-Length`.
    static func requestBytes(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) -> [UInt8] {
        // A test may name its own Host (the admin listener checks it).
        var head = "\(method) \(path) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { head += "Host: 127.0.0.1\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        return Array((head + "\r\n").utf8) + body
    }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws -> TestResponse {
        try write(Self.requestBytes(method, path, headers: headers, body: body))
        return try readResponse()
    }

    /// Reads one response: status line, headers, then a Content-Length body.
    func readResponse() throws -> TestResponse {
        var headEnd: Int?
        while true {
            if let end = Self.find([13, 10, 13, 10], in: buffer) {
                headEnd = end
                break
            }
            guard try fill() else { throw TestHTTPError(description: "connection closed before a response") }
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        buffer.removeFirst(headEnd! + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestHTTPError(description: "bad status line in \(head)") }
        var headers: [String: String] = [:]
        var cookies: [String] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[line[..<colon].lowercased()] = value
            if line[..<colon].lowercased() == "set-cookie" { cookies.append(value) }
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < length {
            guard try fill() else { throw TestHTTPError(description: "connection closed mid-body") }
        }
        let body = Array(buffer[..<length])
        buffer.removeFirst(length)
        return TestResponse(status: status, headers: headers, body: body, cookies: cookies)
    }

    /// Whether the server closes the connection within `seconds` (reading and dropping anything).
    func closes(within seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            var pollfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pollfd, 1, 50) >= 0 else { return true }
            if pollfd.revents != 0 {
                var scratch = [UInt8](repeating: 0, count: 4096)
                let n = recv(fd, &scratch, scratch.count, Int32(MSG_DONTWAIT))
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return true }
            }
        }
        return false
    }

    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n < 0 { throw TestHTTPError(description: "recv: \(String(cString: strerror(errno)))") }
        if n == 0 { return false }
        buffer += chunk[..<n]
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}

// MARK: - A serve daemon in a temporary directory

/// Log lines captured from a daemon.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    var logger: Logger { Logger(format: .logfmt) { [self] line in lines.withLock { $0.append(line) } } }
    var all: [String] { lines.withLock { $0 } }
}

/// A `ServeDaemon` over pipeline files written to a fresh directory, with ingest and admin on
/// kernel-picked loopback ports.
final class ServeFixture {
    static let token = "test-ingest-token"
    static let secret = "whsec_c2VydmUtdGVzdC1zZWNyZXQtMDAwMDAwMDA="
    let directory: String
    let daemon: ServeDaemon
    let logs = LogCapture()
    let environment: [String: String]

    /// The default pipeline: an http source and a file sink at `$OUT`.
    static let defaultPipeline = """
        pipeline: ingest
        source: { type: http, listen: "127.0.0.1:0", path: /events, token: "${INGEST_TOKEN}" }
        sinks:
          audit: { type: file, path: "${OUT}" }
        """

    init(
        files: [String: String] = ["ingest.yaml": ServeFixture.defaultPipeline], adminToken: String? = nil,
        watch: Duration? = nil, extraEnvironment: [String: String] = [:], configure: (inout ServeDaemon.Configuration) -> Void = { _ in }
    ) throws {
        directory = NSTemporaryDirectory() + "loyali-serve-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/pipelines", withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: directory + "/pipelines/" + name, atomically: true, encoding: .utf8) }
        environment = ["INGEST_TOKEN": Self.token, "OUT": directory + "/out.jsonl", "SECRET": Self.secret].merging(extraEnvironment) { $1 }
        var configuration = ServeDaemon.Configuration(paths: [directory + "/pipelines"], stateDirectory: directory + "/state")
        configuration.admin = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.adminToken = adminToken.flatMap(BearerToken.init)
        configuration.watchInterval = watch
        configuration.environment = environment
        configuration.grace = .seconds(2)
        configure(&configuration)
        daemon = ServeDaemon(configuration: configuration, logger: logs.logger)
        try daemon.start()
    }

    deinit {
        daemon.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var ingestPort: Int { daemon.ingestAddress(for: "127.0.0.1:0")!.port }
    var adminPort: Int { daemon.adminAddress!.port }

    /// Writes (or replaces) a pipeline file.
    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: directory + "/pipelines/" + name, atomically: true, encoding: .utf8)
    }

    /// POSTs `body` to the ingest endpoint on a fresh connection.
    func post(
        _ body: String, contentType: String = "application/json", token: String? = ServeFixture.token, path: String = "/events"
    ) throws -> TestResponse {
        var headers = [("Content-Type", contentType)]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try TestConnection(port: ingestPort).request("POST", path, headers: headers, body: Array(body.utf8))
    }

    /// The login token serve wrote to its state directory (when no admin token is configured).
    var loginToken: String? {
        (try? String(contentsOfFile: directory + "/state/admin-token", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A request to the admin listener. A POST without `token` carries the daemon's login token
    /// (state-changing endpoints always need one) unless `anonymous`.
    func admin(_ method: String, _ path: String, body: String = "", token: String? = nil, anonymous: Bool = false) throws -> TestResponse {
        var headers: [(String, String)] = []
        if let token = token ?? (method == "POST" && !anonymous ? loginToken : nil) { headers.append(("Authorization", "Bearer \(token)")) }
        if !body.isEmpty { headers.append(("Content-Type", "application/json")) }
        return try TestConnection(port: adminPort).request(method, path, headers: headers, body: Array(body.utf8))
    }

    /// A separate connection to the state store, as the CLI would open it.
    func store() throws -> SQLiteDeliveryStore { try SQLiteDeliveryStore(directory: directory + "/state") }

    /// Waits (bounded) until `condition` holds.
    /// Polls `condition` until it holds or `seconds` have passed. The default is generous: it
    /// costs nothing when the condition comes true, and a loaded machine can be slow.
    static func eventually(seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return try condition()
    }
}

/// An input line for `id`.
func eventLine(_ id: String, type: String = "points.earned") -> String {
    #"{"id":"\#(id)","event_type":"\#(type)","created_at":"2024-01-20T14:30:00Z","data":{"customer_id":"cust_abc123","points":150}}"#
}

extension JSONObject {
    /// `self[key]` as an array of objects.
    func objects(_ key: String) -> [JSONObject] { self[key]?.arrayValue?.compactMap(\.objectValue) ?? [] }
    func int(_ key: String) -> Int? { self[key].flatMap { if case .number(let n) = $0 { Int(n.literal) } else { nil } } }
    func string(_ key: String) -> String? { self[key]?.stringValue }
}

// MARK: - Ingest

// Serialized: each test blocks on sockets while the daemon's own threads work.
@Suite("serve: HTTP ingest", .serialized)
struct IngestTests {
    @Test("one event: 202 lists the event id and its delivery ids, and the delivery is in the store")
    func happyPath() throws {
        let fixture = try ServeFixture()
        let response = try fixture.post(eventLine("evt_happy_1"))
        #expect(response.status == 202, "\(response.text)")
        let body = try #require(response.json)
        let accepted = body.objects("accepted")
        #expect(accepted.count == 1)
        #expect(accepted.first?.string("id") == "evt_happy_1")
        #expect(accepted.first?.int("line") == 1)
        let delivery = try #require(accepted.first?.objects("deliveries").first)
        let expectedID = DeliveryID.make(eventID: "evt_happy_1", pipeline: "ingest", sink: "audit")
        #expect(delivery.string("id") == expectedID)
        #expect(delivery.string("pipeline") == "ingest")
        #expect(delivery.string("sink") == "audit")
        #expect(body.objects("rejected").isEmpty)
        let (summary, _) = try #require(try fixture.store().detail(id: expectedID))
        #expect(summary.eventType == "points.earned")
        // And it is delivered: the file sink gets the envelope with the delivery id.
        #expect(ServeFixture.eventually { (try? String(contentsOfFile: fixture.environment["OUT"]!, encoding: .utf8))?.contains(expectedID) == true })
    }

    @Test("one endpoint fans out to every subscribed pipeline and sink; the answer lists each delivery id")
    func fanOut() throws {
        let shared = #"source: { type: http, listen: "127.0.0.1:0", path: /events, token: "${INGEST_TOKEN}" }"#
        let fixture = try ServeFixture(files: [
            "a.yaml": "pipeline: alpha\n\(shared)\nsinks:\n  one: { type: file, path: \"${OUT}\" }\n  two: { type: file, path: \"${OUT}\" }\n",
            "b.yaml": "pipeline: beta\n\(shared)\nfilter: { events: [\"tier.*\"] }\nsinks:\n  three: { type: file, path: \"${OUT}\" }\n",
        ])
        let points = try #require(try fixture.post(eventLine("evt_fan_1")).json)
        let deliveries = points.objects("accepted").first?.objects("deliveries").map { "\($0.string("pipeline")!)/\($0.string("sink")!)" }
        #expect(deliveries == ["alpha/one", "alpha/two"])
        let tier = try #require(try fixture.post(eventLine("evt_fan_2", type: "tier.upgraded")).json)
        #expect(tier.objects("accepted").first?.objects("deliveries").count == 3)
        let store = try fixture.store()
        for (pipeline, sink) in [("alpha", "one"), ("alpha", "two"), ("beta", "three")] {
            #expect(try store.detail(id: DeliveryID.make(eventID: "evt_fan_2", pipeline: pipeline, sink: sink)) != nil)
        }
        // Same endpoint, different tokens: refused at start.
        #expect(throws: ServeDaemon.StartError.self) {
            _ = try ServeFixture(files: [
                "a.yaml": "pipeline: alpha\n\(shared)\nsinks:\n  one: { type: stdout }\n",
                "b.yaml": "pipeline: beta\n" + shared.replacingOccurrences(of: "INGEST_TOKEN", with: "OTHER_TOKEN") + "\nsinks:\n  two: { type: stdout }\n",
            ], extraEnvironment: ["OTHER_TOKEN": "other"])
        }
    }

    @Test("malformed JSON is rejected with its line, column and reason; a bad event with the field at fault")
    func malformedJSON() throws {
        let fixture = try ServeFixture()
        let broken = try fixture.post(#"{"event_type":"points.earned","data":{"#)
        #expect(broken.status == 400)
        let body = try #require(broken.json)
        #expect(body.string("error") == "invalid_events")
        let rejected = try #require(body.objects("rejected").first)
        #expect(rejected.int("line") == 1)
        #expect(rejected.int("column") != nil)
        #expect(rejected.string("reason")?.hasPrefix("invalid JSON") == true, "\(rejected)")
        #expect(body.objects("accepted").isEmpty)

        let missing = try #require(try fixture.post(#"{"event_type":"points.earned"}"#).json)
        #expect(missing.objects("rejected").first?.string("reason") == "missing required field 'data'")
        let empty = try fixture.post("")
        #expect(empty.status == 400)
        #expect(empty.json?.objects("rejected").first?.string("reason")?.contains("empty") == true)
    }

    @Test("NDJSON posted as application/json is named as such, at the end of its first value; other errors get their own line")
    func ndjsonAsJSON() throws {
        let fixture = try ServeFixture()
        let first = eventLine("evt_nd_1")
        for (body, lines) in [(first + "\n" + eventLine("evt_nd_2") + "\n" + eventLine("evt_nd_3") + "\n", 3), ("\n  " + first + "\r\n\r\n" + eventLine("evt_nd_2"), 2)] {
            let response = try fixture.post(body)
            #expect(response.status == 400)
            let rejected = try #require(response.json?.objects("rejected").first)
            let firstLine = body.hasPrefix("\n") ? 2 : 1
            let firstColumn = body.hasPrefix("\n") ? first.unicodeScalars.count + 2 : first.unicodeScalars.count
            #expect(rejected.int("line") == firstLine, "\(rejected)")
            #expect(rejected.int("column") == firstColumn, "\(rejected)")
            let reason = try #require(rejected.string("reason"))
            #expect(reason.contains("holds \(lines) JSON lines") && reason.contains("application/x-ndjson"), "\(reason)")
        }
        #expect(try fixture.store().list(DeliveryQuery()).isEmpty)
        // Pretty-printed JSON with a mistake on its third line is blamed on that line.
        let pretty = try fixture.post("{\n  \"event_type\": \"points.earned\",\n  \"data\": {\"points\": 1,}\n}\n")
        let rejected = try #require(pretty.json?.objects("rejected").first)
        #expect(rejected.int("line") == 3, "\(rejected)")
        #expect(rejected.int("column") == 24, "\(rejected)")
        #expect(rejected.string("reason")?.hasPrefix("invalid JSON") == true)
    }

    @Test("an event repeating a key at any depth is refused with 400 naming its line; the others are accepted")
    func duplicateKeysAreRefusedAtIngest() throws {
        let fixture = try ServeFixture()
        let duplicated = #"{"id":"evt_dup_2","event_type":"points.earned","data":{"customer":{"email":"a@x","email":"b@x"}}}"#
        let response = try fixture.post(
            [eventLine("evt_dup_1"), duplicated].joined(separator: "\n") + "\n", contentType: "application/x-ndjson")
        #expect(response.status == 400)
        let body = try #require(response.json)
        let rejected = try #require(body.objects("rejected").first)
        #expect(rejected.int("line") == 2)
        #expect(rejected.string("reason")?.hasPrefix(#"duplicate key "email" at data.customer.email"#) == true, "\(rejected)")
        #expect(body.objects("accepted").count == 1)
    }

    @Test("a batch with good and bad lines: the good are accepted and durable, the bad named by line and reason")
    func mixedBatch() throws {
        let fixture = try ServeFixture()
        let batch = [
            eventLine("evt_batch_1"), "not json at all", "", #"{"event_type":"point.earned","data":{}}"#, eventLine("evt_batch_2"),
        ].joined(separator: "\n") + "\n"
        let response = try fixture.post(batch, contentType: "application/x-ndjson")
        #expect(response.status == 400)
        let body = try #require(response.json)
        #expect(body.objects("accepted").map { $0.int("line") } == [1, 5])
        #expect(body.objects("accepted").map { $0.string("id") } == ["evt_batch_1", "evt_batch_2"])
        let rejected = body.objects("rejected")
        #expect(rejected.map { $0.int("line") } == [2, 4])
        #expect(rejected.first?.string("reason")?.hasPrefix("invalid JSON") == true)
        #expect(rejected.last?.string("reason") == "unknown event type 'point.earned'; did you mean 'points.earned'?")
        #expect(body.string("message")?.contains("the other 2 were accepted") == true)
        let store = try fixture.store()
        for id in ["evt_batch_1", "evt_batch_2"] {
            #expect(try store.detail(id: DeliveryID.make(eventID: id, pipeline: "ingest", sink: "audit")) != nil, "\(id) not durable")
        }
        // Without an id, the id is derived from the event's bytes: the same event as JSON (with
        // stray whitespace) or as an NDJSON line gets the same id, so a re-post dedupes.
        let anonymous = #"{"event_type":"points.earned","data":{"customer_id":"cust_anon"}}"#
        let asJSON = try #require(try fixture.post("  " + anonymous + "\n").json)
        let asLine = try #require(try fixture.post(anonymous + "\n", contentType: "application/x-ndjson").json)
        #expect(asJSON.objects("accepted").first?.string("id")?.hasPrefix("evt_") == true)
        #expect(asJSON.objects("accepted").first?.string("id") == asLine.objects("accepted").first?.string("id"))
        // An all-good batch is a 202.
        let good = try fixture.post(eventLine("evt_batch_3") + "\r\n" + eventLine("evt_batch_4"), contentType: "application/x-ndjson; charset=utf-8")
        #expect(good.status == 202)
        #expect(good.json?.objects("accepted").count == 2)
    }

    @Test("401, 404, 405, 413, 415 come with JSON bodies and the right headers, and the server keeps serving")
    func errorStatuses() throws {
        let fixture = try ServeFixture { $0.ingestLimits.maxBodyBytes = 4_096 }
        let missing = try fixture.post(eventLine("evt_e1"), token: nil)
        #expect(missing.status == 401)
        #expect(missing.headers["www-authenticate"] == "Bearer")
        #expect(missing.json?.string("message") == "missing bearer token")
        let wrong = try fixture.post(eventLine("evt_e1"), token: "test-ingest-tokeN")
        #expect(wrong.status == 401)
        #expect(wrong.json?.string("error") == "unauthorized")
        #expect(!wrong.text.contains(ServeFixture.token))

        #expect(try fixture.post(eventLine("evt_e1"), path: "/nope").status == 404)
        let get = try TestConnection(port: fixture.ingestPort).request("GET", "/events")
        #expect(get.status == 405)
        #expect(get.headers["allow"] == "POST")
        let text = try fixture.post(eventLine("evt_e1"), contentType: "text/plain")
        #expect(text.status == 415)
        #expect(text.json?.string("error") == "unsupported_media_type")

        // Over the cap by Content-Length: refused before the body is read.
        let big = String(repeating: "x", count: 5_000)
        let tooLarge = try fixture.post(big)
        #expect(tooLarge.status == 413)
        #expect(tooLarge.json?.int("limit_bytes") == 4_096)
        // Over the cap without a length (chunked): read, dropped, refused.
        let chunked = try TestConnection(port: fixture.ingestPort)
        let chunk = String(repeating: "y", count: 3_000)
        try chunked.write(
            "POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(ServeFixture.token)\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n" + "bb8\r\n\(chunk)\r\nbb8\r\n\(chunk)\r\n0\r\n\r\n")
        #expect(try chunked.readResponse().status == 413)
        // Huge bodies (and refused ones) are read and dropped before the answer, so a client that
        // writes its whole body first still reads the status rather than a reset.
        let huge20 = [UInt8](repeating: UInt8(ascii: "z"), count: 20 << 20)
        let hugeResponse = try TestConnection(port: fixture.ingestPort).request(
            "POST", "/events", headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(ServeFixture.token)")], body: huge20)
        #expect(hugeResponse.status == 413)
        let refusedWithBody = try TestConnection(port: fixture.ingestPort).request(
            "POST", "/events", headers: [("Content-Type", "application/json"), ("Authorization", "Bearer nope")], body: Array(huge20[..<(4 << 20)]))
        #expect(refusedWithBody.status == 401)
        // A head over the header memory limit.
        let huge = try TestConnection(port: fixture.ingestPort)
        let headerResponse = try huge.request("POST", "/events", headers: [("X-Filler", String(repeating: "h", count: 40_000))], body: [])
        #expect(headerResponse.status == 431)
        #expect(headerResponse.json?.string("error") == "request_header_fields_too_large", "\(headerResponse.text)")

        let after = try fixture.post(eventLine("evt_e2"))
        #expect(after.status == 202, "the server stopped serving after the errors: \(after.text)")
    }

    @Test("every answer is counted by status, including 413s (chunked or not) and 400s the server gives before the handler")
    func everyAnswerCounted() throws {
        let fixture = try ServeFixture { $0.ingestLimits.maxBodyBytes = 2_048 }
        let auth = "Authorization: Bearer \(ServeFixture.token)\r\nContent-Type: application/json\r\n"
        #expect(try fixture.post(eventLine("evt_count_1")).status == 202)
        #expect(try fixture.post(String(repeating: "x", count: 3_000)).status == 413)
        let chunk = String(repeating: "y", count: 1_500)
        let chunked = try TestConnection(port: fixture.ingestPort)
        try chunked.write("POST /events HTTP/1.1\r\nHost: x\r\n\(auth)Transfer-Encoding: chunked\r\n\r\n5dc\r\n\(chunk)\r\n5dc\r\n\(chunk)\r\n0\r\n\r\n")
        #expect(try chunked.readResponse().status == 413)
        let smuggled = try TestConnection(port: fixture.ingestPort)
        try smuggled.write("POST /events HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(try smuggled.readResponse().status == 400)
        #expect(try fixture.post(eventLine("evt_count_2"), token: nil).status == 401)
        let exposition = try PrometheusParser.parse(try fixture.admin("GET", "/metrics").text)
        for (code, expected) in [("202", 1.0), ("413", 2.0), ("400", 1.0), ("401", 1.0)] {
            #expect(exposition.value("loyali_hooks_ingest_responses_total", ["code": code]) == expected, "code \(code)")
        }
    }

    @Test(
        "a head whose body framing is ambiguous gets 400 and the connection closes (request smuggling)",
        arguments: [
            "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
            "Content-Length: 4\r\nContent-Length: 4\r\n",
            "Content-Length: 4\r\nContent-Length: 40\r\n",
            "Transfer-Encoding: gzip, chunked\r\n",
            "Transfer-Encoding: identity\r\n",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        ])
    func ambiguousFraming(fields: String) throws {
        let fixture = try ServeFixture()
        let connection = try TestConnection(port: fixture.ingestPort)
        try connection.write(
            "POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(ServeFixture.token)\r\nContent-Type: application/json\r\n"
                + fields + "\r\n0\r\n\r\n")
        let response = try connection.readResponse()
        #expect(response.status == 400)
        #expect(response.json?.string("error") == "bad_request")
        #expect(response.headers["connection"] == "close")
        #expect(connection.closes(within: 2))
    }

    @Test(
        "heads libmicrohttpd would refuse with its own HTML get the documented JSON error, counted, and the connection closes",
        arguments: [
            (String(repeating: "h", count: 40_000), "POST /events HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n", 431, "request_header_fields_too_large"),
            (String(repeating: "u", count: 40_000), "POST /events?{} HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
            ((0..<150).map { "X-F\($0): v" }.joined(separator: "\r\n"), "POST /events HTTP/1.1\r\nHost: x\r\n{}\r\n\r\n", 431, "request_header_fields_too_large"),
            ("", "GARBAGE{}\r\n\r\n", 400, "bad_request"),
            ("", "POST /events HTTP/1.1 extra{}\r\n\r\n", 400, "bad_request"),
            ("", "POST /events HTTP/2.0{}\r\nHost: x\r\n\r\n", 505, "http_version_not_supported"),
            ("", "POST /events HTTP/0.9{}\r\n\r\n", 505, "http_version_not_supported"),
            ("", "POST /events HTTP/1.1\r\nHost: x\r\nno colon here{}\r\n\r\n", 400, "bad_request"),
            ("", "POST /events HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded{}\r\n\r\n", 400, "bad_request"),
            ("", "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4{}\r\n\r\nabcd", 400, "bad_request"),
            ("", "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: +4{}\r\n\r\nabcd", 400, "bad_request"),
            ("", "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999{}\r\n\r\n", 413, "payload_too_large"),
        ])
    func ownErrorsAreJSON(filler: String, template: String, status: Int, code: String) throws {
        let fixture = try ServeFixture()
        let connection = try TestConnection(port: fixture.ingestPort)
        try connection.write(template.replacingOccurrences(of: "{}", with: filler))
        let response = try connection.readResponse()
        #expect(response.status == status, "\(response.text)")
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.json?.string("error") == code, "\(response.text)")
        #expect(response.json?.string("message")?.isEmpty == false)
        #expect(connection.closes(within: 2))
        let exposition = try PrometheusParser.parse(try fixture.admin("GET", "/metrics").text)
        #expect(exposition.value("loyali_hooks_ingest_responses_total", ["code": String(status)]) == 1)
        #expect(try fixture.post(eventLine("evt_after_own_error")).status == 202)
    }

    @Test("answers libmicrohttpd still makes by itself (a later head on a kept-alive connection, a broken chunk) are counted too")
    func libraryAnswersCounted() throws {
        let fixture = try ServeFixture()
        let auth = "Authorization: Bearer \(ServeFixture.token)\r\nContent-Type: application/json\r\n"
        let body = eventLine("evt_lib_1")
        let kept = try TestConnection(port: fixture.ingestPort)
        try kept.write("POST /events HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(try kept.readResponse().status == 202)
        try kept.write("POST /events HTTP/1.1\r\nHost: x\r\nX-Filler: \(String(repeating: "h", count: 100_000))\r\n\r\n")
        let oversize = try kept.readResponse()
        let chunked = try TestConnection(port: fixture.ingestPort)
        try chunked.write("POST /events HTTP/1.1\r\nHost: x\r\n\(auth)Transfer-Encoding: chunked\r\n\r\nzz\r\nnot hex\r\n0\r\n\r\n")
        let broken = try chunked.readResponse()
        #expect(broken.status == 400)
        // Over the limit but within libmicrohttpd's memory: the same JSON 431 the gate gives.
        let second = try TestConnection(port: fixture.ingestPort)
        try second.write("POST /events HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(try second.readResponse().status == 202)
        try second.write("POST /events HTTP/1.1\r\nHost: x\r\nX-Filler: \(String(repeating: "h", count: 20_000))\r\n\r\n")
        let over = try second.readResponse()
        #expect(over.status == 431)
        #expect(over.json?.string("error") == "request_header_fields_too_large", "\(over.text)")
        let exposition = try PrometheusParser.parse(try fixture.admin("GET", "/metrics").text)
        #expect(exposition.value("loyali_hooks_ingest_responses_total", ["code": "202"]) == 2)
        #expect(oversize.status == 431)
        #expect(exposition.value("loyali_hooks_ingest_responses_total", ["code": "431"]) == 2)
        #expect(exposition.value("loyali_hooks_ingest_responses_total", ["code": "400"]) == 1)
    }

    @Test("keep-alive carries interleaved single events and batches, pipelined or not, each answered in order")
    func keepAlive() throws {
        let fixture = try ServeFixture()
        let connection = try TestConnection(port: fixture.ingestPort)
        let auth = ("Authorization", "Bearer \(ServeFixture.token)")
        let one = try connection.request("POST", "/events", headers: [("Content-Type", "application/json"), auth], body: Array(eventLine("evt_ka_1").utf8))
        #expect(one.status == 202)
        let batch = try connection.request(
            "POST", "/events", headers: [("Content-Type", "application/x-ndjson"), auth],
            body: Array((eventLine("evt_ka_2") + "\n{oops\n" + eventLine("evt_ka_3")).utf8))
        #expect(batch.status == 400)
        #expect(batch.json?.objects("accepted").count == 2)
        // Two requests written back to back before reading either.
        try connection.write(
            TestConnection.requestBytes("POST", "/events", headers: [("Content-Type", "application/json"), auth], body: Array(eventLine("evt_ka_4").utf8))
                + TestConnection.requestBytes(
                    "POST", "/events", headers: [("Content-Type", "application/x-ndjson"), auth],
                    body: Array((eventLine("evt_ka_5") + "\n" + eventLine("evt_ka_6")).utf8)))
        let first = try connection.readResponse()
        let second = try connection.readResponse()
        #expect(first.json?.objects("accepted").map { $0.string("id") } == ["evt_ka_4"])
        #expect(second.json?.objects("accepted").map { $0.string("id") } == ["evt_ka_5", "evt_ka_6"])
        #expect(first.headers["connection"] != "close")
    }

    @Test("group commit: under concurrent keep-alive load every 202 is already in the store, and commits are shared")
    func groupCommit() throws {
        let fixture = try ServeFixture()
        let port = fixture.ingestPort
        let clients = 8
        let perClient = 40
        let acceptedIDs = Mutex<[String]>([])
        let failures = Mutex<[String]>([])
        let done = DispatchGroup()
        for client in 0..<clients {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                do {
                    let connection = try TestConnection(port: port)
                    for n in 0..<perClient {
                        let response = try connection.request(
                            "POST", "/events", headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(ServeFixture.token)")],
                            body: Array(eventLine("evt_gc_\(client)_\(n)").utf8))
                        guard response.status == 202 else { throw TestHTTPError(description: "status \(response.status)") }
                        let ids = response.json?.objects("accepted").flatMap { $0.objects("deliveries").compactMap { $0.string("id") } } ?? []
                        acceptedIDs.withLock { $0 += ids }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let ids = acceptedIDs.withLock { $0 }
        #expect(ids.count == clients * perClient)
        let store = try fixture.store()
        let missing = try ids.filter { try store.detail(id: $0) == nil }
        #expect(missing.isEmpty, "202 answered but not stored: \(missing.prefix(5))")
        let metrics = try fixture.admin("GET", "/metrics").text
        let exposition = try PrometheusParser.parse(metrics)
        let requests = exposition.value("loyali_hooks_ingest_committed_requests_total") ?? 0
        let commits = exposition.value("loyali_hooks_ingest_commits_total") ?? 0
        #expect(requests == Double(clients * perClient))
        #expect(commits >= 1 && commits <= requests)
    }

    @Test("a client trickling its request (slowloris) is cut off, while a steady keep-alive client is not")
    func slowloris() throws {
        let fixture = try ServeFixture {
            $0.ingestLimits.idleTimeoutSeconds = 1
            $0.ingestLimits.requestTimeout = .milliseconds(500)
        }
        let slow = try TestConnection(port: fixture.ingestPort)
        try slow.write("POST /events HTTP/1.1\r\nHost: x\r\n")
        let steady = try TestConnection(port: fixture.ingestPort)
        let auth = ("Authorization", "Bearer \(ServeFixture.token)")
        let started = Date()
        var cutOff = false
        var n = 0
        while Date().timeIntervalSince(started) < 4 {
            // One header byte every 200 ms never trips an idle timeout…
            do { try slow.write("X") } catch {
                cutOff = true
                break
            }
            if slow.closes(within: 0.2) {
                cutOff = true
                break
            }
            // …while the steady client's requests keep completing on their own connection.
            n += 1
            let response = try steady.request("POST", "/events", headers: [("Content-Type", "application/json"), auth], body: Array(eventLine("evt_steady_\(n)").utf8))
            #expect(response.status == 202)
        }
        #expect(cutOff, "the trickling connection was still open after 4 s")
        #expect(Date().timeIntervalSince(started) < 3.5)
        #expect(try fixture.post(eventLine("evt_after_slow")).status == 202)
    }

    /// Writes `bytes` one at a time every `every` seconds (then keeps polling); the seconds from
    /// `since` until the server closed the connection, or nil if it was still open after `limit`.
    static func secondsUntilCut(_ connection: TestConnection, trickling bytes: [UInt8], every: Double = 0.1, since: Date, limit: Double = 4) -> Double? {
        var remaining = bytes[...]
        while Date().timeIntervalSince(since) < limit {
            if let byte = remaining.popFirst(), (try? connection.write([byte])) == nil { return Date().timeIntervalSince(since) }
            if connection.closes(within: every) { return Date().timeIntervalSince(since) }
        }
        return nil
    }

    @Test("--request-timeout counts from a request's first byte: a trickled head or body is cut within it, idle time before it is not counted")
    func requestTimeoutFromFirstByte() throws {
        let fixture = try ServeFixture {
            $0.ingestLimits.idleTimeoutSeconds = 5
            $0.ingestLimits.requestTimeout = .seconds(1)
        }
        let auth = "Authorization: Bearer \(ServeFixture.token)\r\nContent-Type: application/json\r\n"
        let head = Array("POST /events HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: 200\r\n\r\n".utf8)
        // The head trickled from its first byte.
        let slowHead = try TestConnection(port: fixture.ingestPort)
        let cutHead = Self.secondsUntilCut(slowHead, trickling: head, since: Date())
        #expect(cutHead.map { $0 >= 0.9 && $0 < 2 } == true, "head trickle cut after \(cutHead.map { "\($0)" } ?? "never")")
        // The request line at once with the connection, then the rest trickled.
        let burst = try TestConnection(port: fixture.ingestPort)
        let started = Date()
        try burst.write(Array(head[..<16]))
        let cutBurst = Self.secondsUntilCut(burst, trickling: Array(head[16...]), every: 0.3, since: started)
        #expect(cutBurst.map { $0 >= 0.9 && $0 < 2 } == true, "burst then trickle cut after \(cutBurst.map { "\($0)" } ?? "never")")
        // The head at once, the body trickled.
        let slowBody = try TestConnection(port: fixture.ingestPort)
        let bodyStart = Date()
        try slowBody.write(head)
        let cutBody = Self.secondsUntilCut(slowBody, trickling: Array(repeating: UInt8(ascii: " "), count: 200), since: bodyStart)
        #expect(cutBody.map { $0 >= 0.9 && $0 < 2 } == true, "body trickle cut after \(cutBody.map { "\($0)" } ?? "never")")
        // Keep-alive: idle longer than the request timeout between requests is fine; the next
        // request's clock starts with its own first byte.
        let steady = try TestConnection(port: fixture.ingestPort)
        let authPair = ("Authorization", "Bearer \(ServeFixture.token)")
        #expect(try steady.request("POST", "/events", headers: [("Content-Type", "application/json"), authPair], body: Array(eventLine("evt_rt_1").utf8)).status == 202)
        Thread.sleep(forTimeInterval: 1.6)
        #expect(try steady.request("POST", "/events", headers: [("Content-Type", "application/json"), authPair], body: Array(eventLine("evt_rt_2").utf8)).status == 202)
        Thread.sleep(forTimeInterval: 1.3)
        let cutAgain = Self.secondsUntilCut(steady, trickling: head, since: Date())
        #expect(cutAgain.map { $0 >= 0.9 && $0 < 2 } == true, "keep-alive trickle cut after \(cutAgain.map { "\($0)" } ?? "never")")
    }

    @Test("shutdown answers every request already received; each 202 is durable, the rest are refused")
    func shutdownDrains() throws {
        let fixture = try ServeFixture()
        let port = fixture.ingestPort
        let outcomes = Mutex<[(Int, [String])]>([])
        let done = DispatchGroup()
        for client in 0..<4 {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                for n in 0..<200 {
                    guard let connection = try? TestConnection(port: port, timeoutSeconds: 5) else { return }
                    guard let response = try? connection.request(
                        "POST", "/events", headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(ServeFixture.token)")],
                        body: Array(eventLine("evt_sd_\(client)_\(n)").utf8))
                    else { continue }
                    let ids = response.json?.objects("accepted").flatMap { $0.objects("deliveries").compactMap { $0.string("id") } } ?? []
                    outcomes.withLock { $0.append((response.status, ids)) }
                }
            }
        }
        Thread.sleep(forTimeInterval: 0.2)
        fixture.daemon.shutdown()
        #expect(done.wait(timeout: .now() + 20) == .success, "a client hung")
        let answered = outcomes.withLock { $0 }
        #expect(answered.allSatisfy { $0.0 == 202 || $0.0 == 503 }, "\(Set(answered.map(\.0)))")
        let store = try fixture.store()
        let accepted = answered.filter { $0.0 == 202 }.flatMap(\.1)
        #expect(!accepted.isEmpty)
        #expect(try accepted.allSatisfy { try store.detail(id: $0) != nil })
    }
}

// MARK: - Metrics

/// A minimal reader of the Prometheus text format (0.0.4), strict about what it accepts: every
/// sample belongs to a family declared by `# TYPE` before it, label values are properly quoted
/// and escaped, series are unique, and histogram buckets are cumulative and end in `+Inf`.
struct PrometheusParser {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var types: [String: String] = [:]
    var help: [String: String] = [:]
    var samples: [Sample] = []

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ text: String) throws -> PrometheusParser {
        var result = PrometheusParser()
        var seen = Set<String>()
        guard text.hasSuffix("\n") else { throw Failure(description: "the exposition must end with a newline") }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let number = index + 1
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard parts.count >= 3, parts[0] == "#" else { continue }
                let name = String(parts[2])
                guard isMetricName(name) else { throw Failure(description: "line \(number): bad metric name '\(name)'") }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        throw Failure(description: "line \(number): bad TYPE line")
                    }
                    guard result.types[name] == nil else { throw Failure(description: "line \(number): second TYPE for \(name)") }
                    guard !result.samples.contains(where: { family(of: $0.name, in: [name: ""]) == name }) else {
                        throw Failure(description: "line \(number): TYPE for \(name) after its samples")
                    }
                    result.types[name] = String(parts[3])
                } else if parts[1] == "HELP" {
                    result.help[name] = parts.count == 4 ? try unescape(parts[3], quote: false, line: number) : ""
                }
                continue
            }
            let sample = try parseSample(line, line: number)
            guard let family = family(of: sample.name, in: result.types) else {
                throw Failure(description: "line \(number): sample \(sample.name) has no # TYPE before it")
            }
            let type = result.types[family]!
            if sample.name != family {
                let suffix = String(sample.name.dropFirst(family.count))
                let allowed = type == "histogram" ? ["_bucket", "_sum", "_count"] : type == "summary" ? ["_sum", "_count"] : []
                guard allowed.contains(suffix) else { throw Failure(description: "line \(number): \(sample.name) does not belong to \(type) \(family)") }
            }
            let key = sample.name + "{" + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
            guard seen.insert(key).inserted else { throw Failure(description: "line \(number): duplicate series \(key)") }
            result.samples.append(sample)
        }
        try result.checkHistograms()
        return result
    }

    /// The value of the one series `name` with `labels`, if present.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    private static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first == ":" || first.properties.isASCIIHexDigit || CharacterSet.letters.contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0 == ":" || CharacterSet.alphanumerics.contains($0)) }
            && !(first.properties.numericType != nil)
    }

    private static func family(of name: String, in types: [String: String]) -> String? {
        if types[name] != nil { return name }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] != nil { return base }
        }
        return nil
    }

    private static func parseSample(_ line: Substring, line number: Int) throws -> Sample {
        var rest = line[...]
        let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        guard isMetricName(name) else { throw Failure(description: "line \(number): bad metric name '\(name)'") }
        rest = rest[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                guard let equals = rest.firstIndex(of: "=") else { throw Failure(description: "line \(number): label without '='") }
                let labelName = String(rest[..<equals])
                guard !labelName.isEmpty, labelName.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                    throw Failure(description: "line \(number): bad label name '\(labelName)'")
                }
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { throw Failure(description: "line \(number): label value not quoted") }
                rest = rest.dropFirst()
                var raw = ""
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped {
                        raw.append("\\")
                        raw.append(character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    } else {
                        raw.append(character)
                    }
                }
                guard labels[labelName] == nil else { throw Failure(description: "line \(number): label \(labelName) twice") }
                labels[labelName] = try unescape(Substring(raw), quote: true, line: number)
                if rest.first == "," { rest = rest.dropFirst() }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw Failure(description: "line \(number): no space before the value") }
        let fields = rest.split(separator: " ")
        guard (1...2).contains(fields.count) else { throw Failure(description: "line \(number): expected a value and an optional timestamp") }
        let text = String(fields[0])
        let value: Double
        switch text {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let parsed = Double(text) else { throw Failure(description: "line \(number): bad value '\(text)'") }
            value = parsed
        }
        return Sample(name: name, labels: labels, value: value)
    }

    private static func unescape(_ text: Substring, quote: Bool, line number: Int) throws -> String {
        var out = ""
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            guard character == "\\" else {
                out.append(character)
                continue
            }
            switch iterator.next() {
            case "\\": out.append("\\")
            case "n": out.append("\n")
            case "\"" where quote: out.append("\"")
            default: throw Failure(description: "line \(number): bad escape")
            }
        }
        return out
    }

    private func checkHistograms() throws {
        for (family, type) in types where type == "histogram" {
            var series: [[String: String]: [(Double, Double)]] = [:]
            for sample in samples where sample.name == family + "_bucket" {
                guard let le = sample.labels["le"] else { throw Failure(description: "\(family)_bucket without le") }
                var rest = sample.labels
                rest["le"] = nil
                series[rest, default: []].append((le == "+Inf" ? .infinity : Double(le) ?? .nan, sample.value))
            }
            for (labels, buckets) in series {
                guard buckets.last?.0 == .infinity else { throw Failure(description: "\(family)\(labels) does not end with +Inf") }
                for (a, b) in zip(buckets, buckets.dropFirst()) where !(a.0 < b.0 && a.1 <= b.1) {
                    throw Failure(description: "\(family)\(labels) buckets are not increasing and cumulative")
                }
                guard value(family + "_count", labels) == buckets.last?.1, value(family + "_sum", labels) != nil else {
                    throw Failure(description: "\(family)\(labels): _count must equal the +Inf bucket, and _sum must be present")
                }
            }
        }
    }
}

@Suite("serve: metrics", .serialized)
struct MetricsTests {
    @Test("/metrics parses as Prometheus text and counts what happened")
    func parses() throws {
        let fixture = try ServeFixture()
        #expect(try fixture.post(eventLine("evt_m_1")).status == 202)
        #expect(try fixture.post(eventLine("evt_m_2") + "\nnope", contentType: "application/x-ndjson").status == 400)
        _ = try fixture.post(eventLine("evt_m_3"), token: "wrong")
        let source = ["source": "http:127.0.0.1:0/events"]
        let sink = ["pipeline": "ingest", "sink": "audit"]
        var exposition = PrometheusParser()
        var contentType: String?
        let delivered = try ServeFixture.eventually {
            let response = try fixture.admin("GET", "/metrics")
            contentType = response.headers["content-type"]
            exposition = try PrometheusParser.parse(response.text)
            return exposition.value("loyali_hooks_deliveries_total", sink.merging(["outcome": "succeeded"]) { $1 }) == 2
        }
        #expect(delivered)
        #expect(contentType == PrometheusText.contentType)
        #expect(exposition.value("loyali_hooks_events_ingested_total", source) == 2)
        #expect(exposition.value("loyali_hooks_events_rejected_total", source) == 1)
        #expect(exposition.value("loyali_hooks_ingest_responses_total", ["code": "401"]) == 1)
        #expect(exposition.value("loyali_hooks_attempt_duration_seconds_count", sink) == 2)
        #expect(exposition.value("loyali_hooks_retries_total", sink) == 0)
        #expect(exposition.value("loyali_hooks_queue_depth", sink) == 0)
        #expect(exposition.value("loyali_hooks_failed_deliveries", sink) == 0)
        #expect(exposition.value("loyali_hooks_ready") == 1)
        for family in exposition.types.keys { #expect(exposition.help[family]?.isEmpty == false, "\(family) has no HELP") }
        #expect(exposition.types["loyali_hooks_attempt_duration_seconds"] == "histogram")
    }

    @Test("a sink disabled through the API stops in a running serve and shows in /metrics and /api/sinks; enabled from the CLI's store, its deliveries go out")
    func sinkDisableAndEnable() throws {
        let fixture = try ServeFixture()
        let sink = ["pipeline": "ingest", "sink": "audit"]
        let disabled = try fixture.admin("POST", "/api/sinks/ingest/audit/disable")
        #expect(disabled.status == 200, "\(disabled.text)")
        #expect(disabled.json?["sink"]?.objectValue?.string("state") == "disabled")
        #expect(try fixture.admin("POST", "/api/sinks/ingest/nope/disable").status == 404)
        #expect(try fixture.admin("POST", "/api/sinks/ingest/audit/disable", anonymous: true).status == 401)
        // Seen by the runner at its next refresh: a second later nothing is delivered.
        Thread.sleep(forTimeInterval: 1.2)
        #expect(try fixture.post(eventLine("evt_disabled_1")).status == 202)
        Thread.sleep(forTimeInterval: 0.5)
        let id = DeliveryID.make(eventID: "evt_disabled_1", pipeline: "ingest", sink: "audit")
        #expect(try fixture.store().detail(id: id)?.0.status == .pending, "a disabled sink's delivery waits")
        let exposition = try PrometheusParser.parse(try fixture.admin("GET", "/metrics").text)
        #expect(exposition.value("loyali_hooks_sink_state", sink.merging(["state": "disabled"]) { $1 }) == 1)
        #expect(exposition.value("loyali_hooks_sink_state", sink.merging(["state": "healthy"]) { $1 }) == 0)
        #expect(exposition.value("loyali_hooks_sink_consecutive_failures", sink) == 0)
        #expect(exposition.value("loyali_hooks_sink_state_changes_total", sink.merging(["state": "disabled"]) { $1 }) == 1)
        let listed = try fixture.admin("GET", "/api/sinks").json?.objects("sinks")
        #expect(listed?.first?.string("state") == "disabled")
        #expect(listed?.first?.string("reason") == "disabled by the admin API")

        // As `loyali-hooks sinks enable ingest/audit` does from another process.
        try fixture.store().setSinkEnabled(pipeline: "ingest", sink: "audit", enabled: true, nowMs: Int64(Date().timeIntervalSince1970 * 1000), by: "the CLI")
        #expect(ServeFixture.eventually { (try? fixture.store().detail(id: id))??.0.status == .succeeded })
        let after = try PrometheusParser.parse(try fixture.admin("GET", "/metrics").text)
        #expect(after.value("loyali_hooks_sink_state", sink.merging(["state": "healthy"]) { $1 }) == 1)
        #expect(after.value("loyali_hooks_sink_state_changes_total", sink.merging(["state": "healthy"]) { $1 }) == 1)
    }

    @Test("label values and help text are escaped so a parser reads them back exactly")
    func escaping() throws {
        var text = PrometheusText()
        text.family("weird_total", type: "counter", help: "back\\slash and\nnewline")
        let label = "quote \" backslash \\ newline \n end"
        text.sample("weird_total", [("name", label)], 3)
        text.family("ratio", type: "gauge", help: "a float")
        text.sample("ratio", [], 0.25)
        let parsed = try PrometheusParser.parse(text.text)
        #expect(parsed.value("weird_total", ["name": label]) == 3)
        #expect(parsed.help["weird_total"] == "back\\slash and\nnewline")
        #expect(parsed.value("ratio") == 0.25)
        #expect(throws: PrometheusParser.Failure.self) { try PrometheusParser.parse("x_total 1\n") }
    }
}

// MARK: - Admin API against docs/openapi.yaml

/// `docs/openapi.yaml` read with the project's own YAML parser, and a checker for the subset of
/// JSON Schema it uses (`$ref`, `allOf`, `oneOf`, `anyOf`, `type` including type lists, `properties`,
/// `required`, `items`, `enum`, `const`).
struct OpenAPIDocument {
    indirect enum Node {
        case scalar(String, plain: Bool)
        case list([Node])
        case map([(String, Node)])

        subscript(key: String) -> Node? {
            if case .map(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
            return nil
        }
        var string: String? { if case .scalar(let s, _) = self { s } else { nil } }
        var list: [Node] { if case .list(let items) = self { items } else { [] } }
        var pairs: [(String, Node)] { if case .map(let pairs) = self { pairs } else { [] } }

        /// The node as JSON; plain scalars that read as numbers, booleans or null become those.
        var json: JSONValue {
            switch self {
            case .scalar(let text, let plain):
                if plain, text == "true" || text == "false" { return .bool(text == "true") }
                if plain, text == "null" { return .null }
                if plain, Int64(text) != nil || Double(text) != nil { return .number(JSONNumber(literal: text)) }
                return .string(text)
            case .list(let items): return .array(items.map(\.json))
            case .map(let pairs): return .object(JSONObject(pairs.map { JSONObject.Member(key: $0.0, value: $0.1.json) }))
            }
        }
    }

    let root: Node

    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/openapi.yaml")

    init() throws {
        let text = try String(contentsOf: Self.url, encoding: .utf8)
        let documents = try YAMLDocument.parse(text, path: "docs/openapi.yaml")
        root = Self.convert(try #require(documents.first))
    }

    private static func convert(_ node: YAMLNode) -> Node {
        switch node.content {
        case .scalar(let text, let style): .scalar(text, plain: style == .plain)
        case .sequence(let items): .list(items.map(convert))
        case .mapping(let pairs): .map(pairs.map { ($0.key.scalarText ?? "", convert($0.value)) })
        }
    }

    /// Every operation: path, method and the operation node.
    var operations: [(path: String, method: String, operation: Node)] {
        root["paths"]!.pairs.flatMap { path, item in
            item.pairs.filter { ["get", "post", "put", "delete", "patch"].contains($0.0) }.map { (path, $0.0.uppercased(), $0.1) }
        }
    }

    private func resolve(_ node: Node) -> Node {
        guard let ref = node["$ref"]?.string else { return node }
        var current = root
        for part in ref.dropFirst(2).split(separator: "/") { current = current[String(part)]! }
        return resolve(current)
    }

    /// The documented response for `status`, resolved.
    func response(_ operation: Node, status: Int) -> Node? {
        operation["responses"]?[String(status)].map(resolve)
    }

    /// Problems with `value` against `schema` (empty when it conforms).
    func check(_ value: JSONValue, against schema: Node, at path: String = "$") -> [String] {
        let schema = resolve(schema)
        var problems: [String] = []
        for part in schema["allOf"]?.list ?? [] { problems += check(value, against: part, at: path) }
        if let options = schema["oneOf"]?.list {
            let matching = options.filter { check(value, against: $0, at: path).isEmpty }
            if matching.count != 1 { problems.append("\(path): matches \(matching.count) of the oneOf schemas") }
        }
        if let options = schema["anyOf"]?.list, !options.contains(where: { check(value, against: $0, at: path).isEmpty }) {
            problems.append("\(path): matches none of the anyOf schemas")
        }
        if let type = schema["type"] {
            let allowed = type.string.map { [$0] } ?? type.list.compactMap(\.string)
            if !allowed.contains(where: { Self.isKind(value, $0) }) { problems.append("\(path): \(value.kindName) is not \(allowed)") }
        }
        if let options = schema["enum"]?.list, !options.contains(where: { $0.json == value }) {
            problems.append("\(path): \(value.serializedString) is not one of the enum values")
        }
        if let constant = schema["const"], constant.json != value { problems.append("\(path): must be \(constant.json.serializedString)") }
        if case .object(let object) = value {
            for required in schema["required"]?.list.compactMap(\.string) ?? [] where object[required] == nil {
                problems.append("\(path): missing required '\(required)'")
            }
            for (name, property) in schema["properties"]?.pairs ?? [] {
                if let member = object[name] { problems += check(member, against: property, at: "\(path).\(name)") }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            for (index, item) in items.enumerated() { problems += check(item, against: itemSchema, at: "\(path)[\(index)]") }
        }
        return problems
    }

    private static func isKind(_ value: JSONValue, _ kind: String) -> Bool {
        switch (kind, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): true
        case ("number", .number): true
        case ("integer", .number(let number)): Int64(number.literal) != nil
        default: false
        }
    }
}

extension YAMLNode {
    var scalarText: String? { if case .scalar(let text, _) = content { text } else { nil } }
}

@Suite("serve: admin API", .serialized)
struct AdminAPITests {
    @Test("every documented operation answers with a documented status and a body of the documented shape")
    func matchesOpenAPI() throws {
        let document = try OpenAPIDocument()
        #expect(document.root["openapi"]?.string == "3.1.0")
        let adminToken = "test-admin-token"
        let fixture = try ServeFixture(adminToken: adminToken)
        // Something in the log to list, show and resend.
        let ingested = try fixture.post(eventLine("evt_api_1"))
        #expect(ingested.status == 202)
        let deliveryID = DeliveryID.make(eventID: "evt_api_1", pipeline: "ingest", sink: "audit")
        #expect(ServeFixture.eventually { (try? fixture.store().detail(id: deliveryID))??.0.status == .succeeded })

        var exercised = 0
        for (path, method, operation) in document.operations {
            let label = "\(method) \(path)"
            var body = ""
            if let example = operation["requestBody"]?["content"]?["application/json"]?["example"] {
                body = example.json.serializedString
            }
            let concrete = path.replacingOccurrences(of: "{id}", with: deliveryID).replacingOccurrences(of: "{name}", with: "ingest")
                .replacingOccurrences(of: "{pipeline}", with: "ingest").replacingOccurrences(of: "{sink}", with: "audit")
            // The documented request, authorized.
            var cases: [(String, TestResponse)] = []
            if path == "/events" {
                cases.append(("authorized", try fixture.post(body)))
                cases.append(("bad event", try fixture.post(#"{"event_type":1}"#)))
                cases.append(("no token", try fixture.post(body, token: nil)))
            } else {
                cases.append(("authorized", try fixture.admin(method, concrete, body: body, token: adminToken)))
                if operation["security"]?.list.isEmpty != true {
                    cases.append(("no token", try fixture.admin(method, concrete, body: body)))
                }
                if path.contains("{") {
                    let unknown = path.replacingOccurrences(of: "{id}", with: "whd_nope").replacingOccurrences(of: "{name}", with: "nope")
                        .replacingOccurrences(of: "{pipeline}", with: "nope").replacingOccurrences(of: "{sink}", with: "nope")
                    cases.append(("unknown id", try fixture.admin(method, unknown, body: body, token: adminToken)))
                }
            }
            for (what, response) in cases {
                guard let documented = document.response(operation, status: response.status) else {
                    Issue.record("\(label) (\(what)) answered \(response.status), which docs/openapi.yaml does not list: \(response.text)")
                    continue
                }
                if let schema = documented["content"]?["application/json"]?["schema"] {
                    #expect(response.headers["content-type"] == "application/json", "\(label) (\(what))")
                    let value = try #require(try? JSONParser.parse(response.body), "\(label) (\(what)) body is not JSON: \(response.text)")
                    let problems = document.check(value, against: schema)
                    #expect(problems.isEmpty, "\(label) (\(what)) \(response.status): \(problems)")
                } else if documented["content"]?["text/plain"] != nil {
                    #expect(response.headers["content-type"]?.hasPrefix("text/plain") == true, "\(label)")
                }
                exercised += 1
            }
            #expect(cases.first?.1.status ?? 500 < 300, "\(label) did not succeed: \(cases.first?.1.text ?? "")")
            // The server's router knows every documented admin path.
            if path != "/events" { #expect(AdminEndpoint.match(concrete)?[method] != nil, "\(label) is not routed") }
        }
        #expect(exercised >= 28)
        // Paths the document does not describe are 404s with the documented error shape.
        let unknown = try fixture.admin("GET", "/api/nothing", token: adminToken)
        #expect(unknown.status == 404)
        #expect(document.check(try JSONParser.parse(unknown.body), against: .map([("$ref", .scalar("#/components/schemas/Error", plain: false))])).isEmpty)
        let wrongMethod = try fixture.admin("DELETE", "/api/stats", token: adminToken)
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.headers["allow"] == "GET")
    }

    @Test("the API reports what the CLI's JSON renderings report for the same store")
    func mirrorsCLI() throws {
        let fixture = try ServeFixture()
        #expect(try fixture.post(eventLine("evt_mirror_1")).status == 202)
        let id = DeliveryID.make(eventID: "evt_mirror_1", pipeline: "ingest", sink: "audit")
        #expect(ServeFixture.eventually { (try? fixture.store().detail(id: id))??.0.status == .succeeded })
        let store = try fixture.store()
        let (summary, attempts) = try #require(try store.detail(id: id))
        let shown = try fixture.admin("GET", "/api/deliveries/\(id)")
        #expect(shown.json == DeliveryJSON.detail(summary, attempts: attempts))
        let listed = try fixture.admin("GET", "/api/deliveries?status=succeeded&pipeline=ingest&limit=10")
        // The log adds the latest attempt's duration to each row.
        let rows = listed.json?.objects("deliveries").map { row in
            var summary = row
            summary.members.removeAll { $0.key == "last_duration_ms" }
            return summary
        }
        #expect(rows == (try store.list(DeliveryQuery(status: .succeeded, pipeline: "ingest", limit: 10))).map(DeliveryJSON.summary))
        #expect(listed.json?.objects("deliveries").first?.int("last_duration_ms") != nil)
        let bad = try fixture.admin("GET", "/api/deliveries?status=done")
        #expect(bad.status == 400)
        #expect(bad.json?.string("message")?.contains("status must be one of") == true)
        let typo = try fixture.admin("GET", "/api/deliveries?pipline=ingest")
        #expect(typo.json?.string("message")?.contains("did you mean 'pipeline'") == true)

        // Resend one, then in bulk: the runner picks them up again.
        let resent = try fixture.admin("POST", "/api/deliveries/\(id)/resend")
        #expect(resent.status == 202)
        #expect(ServeFixture.eventually { (try? fixture.store().detail(id: id))??.0.attempts == 2 })
        let bulk = try fixture.admin("POST", "/api/resend", body: #"{"ids":["\#(id)","whd_unknown"]}"#)
        #expect(bulk.json?["not_queued"] == .array([.string("whd_unknown")]))
        #expect(bulk.json?["unknown"] == .array([.string("whd_unknown")]))
        // A delivery in flight is named as such, not as unknown.
        let other = try fixture.store()
        #expect(ServeFixture.eventually { (try? other.detail(id: id))??.0.status == .succeeded })
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try other.resend(ids: [id], nowMs: now + 3_600_000)
        _ = try other.claimDue(sinkKey: ("ingest", "audit"), nowMs: now + 3_600_000, limit: 1)
        let busy = try fixture.admin("POST", "/api/resend", body: #"{"ids":["\#(id)"]}"#)
        #expect(busy.json?["in_flight"] == .array([.string(id)]))
        #expect(busy.json?["unknown"] == .array([]))
        _ = try other.release(ids: [id])
        #expect(try fixture.admin("POST", "/api/resend", body: #"{"failed":true,"pipeline":"ingest"}"#).json?.int("queued_count") == 0)
        #expect(try fixture.admin("POST", "/api/resend", body: "{}").status == 400)

        // Routes: points.earned goes to ingest/audit; the test button sends the sample there now.
        let routes = try #require(try fixture.admin("GET", "/api/routes").json)
        let points = routes.objects("routes").first { $0.string("event_type") == "points.earned" }
        #expect(points?.objects("routes").map { "\($0.string("pipeline")!)/\($0.string("sink")!)" } == ["ingest/audit"])
        // Only http and plugin sinks are tested unless one is named: the file sink is left alone.
        let outPath = fixture.environment["OUT"]!
        let before = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let unnamed = try fixture.admin("POST", "/api/pipelines/ingest/test?event=tier.upgraded")
        #expect(unnamed.status == 400)
        #expect(unnamed.json?.string("message")?.contains("no http or plugin sink to test") == true)
        #expect(((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "") == before)
        let test = try fixture.admin("POST", "/api/pipelines/ingest/test?event=tier.upgraded&sink=audit")
        #expect(test.json?["ok"] == .bool(true))
        #expect(test.json?["results"]?.arrayValue?.count == 1)
        let named = try fixture.admin("POST", "/api/pipelines/ingest/test", body: #"{"event":"tier.upgraded","sinks":["audti"]}"#)
        #expect(named.status == 400)
        #expect(named.json?.string("message")?.contains("did you mean 'audit'") == true)
        #expect(try fixture.admin("POST", "/api/pipelines/ingest/test", body: #"{"event":"tier.upgraded","sinks":"audit"}"#).status == 400)
        #expect(try fixture.admin("POST", "/api/pipelines/ingest/test", body: #"{"event":"point.earned"}"#).json?.string("message")?.contains("did you mean") == true)
        #expect(try fixture.admin("POST", "/api/pipelines/nope/test", body: #"{"event":"points.earned"}"#).status == 404)
        let stats = try #require(try fixture.admin("GET", "/api/stats?since=1h").json)
        #expect(stats.objects("sinks").first?.int("deliveries") == 1)
    }

    @Test("a since window past its limit is a 400, and the daemon keeps serving")
    func hostileSince() throws {
        let fixture = try ServeFixture()
        for value in ["99999999999999999999999d", "9223372036854775808s", "106751991160d", "1e9d"] {
            for path in ["/api/deliveries?since=\(value)", "/api/stats?since=\(value)"] {
                let answer = try fixture.admin("GET", path)
                #expect(answer.status == 400, "\(path)")
                #expect(answer.json?.string("message")?.hasPrefix("since must be") == true, "\(path)")
            }
            let resend = try fixture.admin("POST", "/api/resend", body: #"{"failed":true,"since":"\#(value)"}"#)
            #expect(resend.status == 400)
        }
        #expect(try fixture.admin("GET", "/api/deliveries?since=36500d").status == 200)
        #expect(try fixture.post(eventLine("evt_after_since")).status == 202)
    }

    @Test("with a token, /api/ and /metrics need it; the probes never do")
    func token() throws {
        let fixture = try ServeFixture(adminToken: "s3cret-admin")
        #expect(try fixture.admin("GET", "/healthz").status == 200)
        #expect(try fixture.admin("GET", "/readyz").json?.string("status") == "ready")
        for path in ["/metrics", "/api/stats", "/api/deliveries"] {
            let refused = try fixture.admin("GET", path, token: "nope")
            #expect(refused.status == 401, "\(path)")
            #expect(refused.headers["www-authenticate"] == "Bearer")
            #expect(try fixture.admin("GET", path, token: "s3cret-admin").status == 200, "\(path)")
        }
        #expect(try fixture.admin("GET", "/api/stats").json?.string("message") == "missing bearer token")
    }
}

/// The runners' store, handed out by ``ServeDaemon/Configuration/prepareStore``.
final class StoreBox: Sendable {
    private let value = Mutex<SQLiteDeliveryStore?>(nil)
    func set(_ store: any DeliveryStore) { value.withLock { $0 = store as? SQLiteDeliveryStore } }
    var store: SQLiteDeliveryStore? { value.withLock { $0 } }
}

@Suite("serve: a store that cannot be written", .serialized)
struct FullStoreTests {
    @Test("while the store is full, ingest answers 503 and /readyz 503; both recover once writes go through")
    func readyzFollowsTheStore() throws {
        let box = StoreBox()
        let fixture = try ServeFixture { $0.prepareStore = { box.set($0) } }
        let store = try #require(box.store)
        #expect(try fixture.admin("GET", "/readyz").status == 200)
        try store.limitGrowth(true)
        let batch = (1...300).map { eventLine("evt_full_\($0)") }.joined(separator: "\n") + "\n"
        let refused = try fixture.post(batch, contentType: "application/x-ndjson")
        #expect(refused.status == 503, "nothing is acknowledged that is not durable: \(refused.text)")
        let notReady = try fixture.admin("GET", "/readyz")
        #expect(notReady.status == 503)
        #expect(notReady.json?.string("reason")?.contains("cannot be written") == true, "\(notReady.text)")
        #expect(try fixture.store().list(DeliveryQuery()).isEmpty)

        try store.limitGrowth(false)
        #expect(try fixture.post(batch, contentType: "application/x-ndjson").status == 202)
        #expect(try fixture.admin("GET", "/readyz").status == 200)
    }
}

@Suite("serve: shutdown", .serialized)
struct ServeShutdownTests {
    @Test("a shutdown whose grace runs out leaves nothing in flight: the cut-off attempt is logged as interrupted")
    func shutdownLeavesNothingInFlight() throws {
        let silent = try SilentReceiver()
        let pipeline = """
            pipeline: ingest
            source: { type: http, listen: "127.0.0.1:0", path: /events, token: "${INGEST_TOKEN}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              hook: { type: http, url: "http://127.0.0.1:${PORT}/hook", timeout: 60s }
            """
        let fixture = try ServeFixture(files: ["ingest.yaml": pipeline], extraEnvironment: ["PORT": String(silent.port)]) {
            $0.grace = .milliseconds(200)
        }
        let batch = (1...3).map { eventLine("evt_stop_\($0)") }.joined(separator: "\n") + "\n"
        #expect(try fixture.post(batch, contentType: "application/x-ndjson").status == 202)
        let store = try fixture.store()
        #expect(ServeFixture.eventually { (try? store.counts()[.inFlight]) == 3 })
        Thread.sleep(forTimeInterval: 0.2)
        fixture.daemon.shutdown()
        #expect(try store.counts()[.inFlight] == 0)
        for row in try store.list(DeliveryQuery()) {
            #expect(row.status == .retrying)
            #expect(try store.detail(id: row.id)?.1.map(\.errorClass) == ["interrupted"])
        }
    }
}

// MARK: - Reload

/// A loopback webhook receiver recording what arrives.
final class RecordingReceiver: Sendable {
    private final class Arrivals: Sendable {
        let list = Mutex<[WebhookReceiver.Received]>([])
    }

    let server: HTTPServer
    private let arrivals = Arrivals()

    init(secret: String, failFirst: Int = 0, delay: Duration = .zero) throws {
        var behavior = WebhookReceiver.Behavior()
        behavior.failFirst = failFirst
        behavior.delay = delay
        let arrivals = arrivals
        let receiver = WebhookReceiver(secrets: [WebhookSecret(secret)], behavior: behavior) { received in
            arrivals.list.withLock { $0.append(received) }
        }
        server = try HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), handler: receiver)
    }

    var received: [WebhookReceiver.Received] { arrivals.list.withLock { $0 } }
    var port: Int { server.address.port }
}

@Suite("serve: reload", .serialized)
struct ReloadTests {
    @Test("an invalid new configuration is logged with path:line:col and the old one keeps running")
    func invalidKeepsOld() throws {
        let fixture = try ServeFixture()
        try fixture.write("ingest.yaml", """
            pipeline: ingest
            source: { type: http, listen: "127.0.0.1:0", path: /events, token: "${INGEST_TOKEN}" }
            filter: { events: [point.earned] }
            sinks:
              audit: { type: file, path: "${OUT}" }
            """)
        let diagnostics = try #require(fixture.daemon.reload(reason: "test"))
        let headline = try #require(diagnostics.first { $0.severity == .error }?.headline)
        #expect(headline.hasSuffix("ingest.yaml:3:20: error: filter.events: unknown event type 'point.earned'; did you mean 'points.earned'?"), "\(headline)")
        #expect(fixture.daemon.generation == 1)
        #expect(fixture.logs.all.contains { $0.contains("configuration reload failed; the running configuration is kept") })
        #expect(fixture.logs.all.contains { $0.contains("ingest.yaml:3:20: error:") })
        // The old configuration still ingests and delivers.
        #expect(try fixture.post(eventLine("evt_keep_1")).status == 202)
        let id = DeliveryID.make(eventID: "evt_keep_1", pipeline: "ingest", sink: "audit")
        #expect(ServeFixture.eventually { (try? String(contentsOfFile: fixture.environment["OUT"]!, encoding: .utf8))?.contains(id) == true })
        // Through the API the refusal is a 422 with the diagnostics.
        let refused = try fixture.admin("POST", "/api/reload")
        #expect(refused.status == 422)
        #expect(refused.json?["diagnostics"]?.arrayValue?.first?.stringValue?.contains("ingest.yaml:3:20") == true)
    }

    @Test("a reload to a duration past its limit is refused with path:line:col; the daemon lives on")
    func hugeDurationOnReload() throws {
        let fixture = try ServeFixture()
        try fixture.write("ingest.yaml", """
            pipeline: ingest
            source: { type: http, listen: "127.0.0.1:0", path: /events, token: "${INGEST_TOKEN}" }
            sinks:
              audit: { type: file, path: "${OUT}", retry: { schedule: [0s, 106751991160d], max_retry_after: 99999999999999999d } }
            """)
        let diagnostics = try #require(fixture.daemon.reload(reason: "test"))
        let errors = diagnostics.filter { $0.severity == .error }.map(\.headline)
        #expect(errors.contains { $0.hasSuffix("ingest.yaml:4:64: error: retry.schedule item must be at most 365d, not '106751991160d'") }, "\(errors)")
        #expect(errors.contains { $0.contains("retry.max_retry_after must be at most 365d") }, "\(errors)")
        #expect(fixture.daemon.generation == 1)
        #expect(try fixture.post(eventLine("evt_reload_huge")).status == 202)
    }

    @Test("a reload that moves the ingest endpoint binds the new address and closes the old one")
    func movedListener() throws {
        let fixture = try ServeFixture()
        let oldPort = fixture.ingestPort
        let newPort = try ChildProcess.freePort()
        try fixture.write("ingest.yaml", ServeFixture.defaultPipeline.replacingOccurrences(of: "127.0.0.1:0", with: "127.0.0.1:\(newPort)"))
        #expect(fixture.daemon.reload(reason: "test") == nil)
        let moved = try TestConnection(port: newPort).request(
            "POST", "/events", headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(ServeFixture.token)")],
            body: Array(eventLine("evt_moved").utf8))
        #expect(moved.status == 202)
        #expect(throws: TestHTTPError.self) { _ = try TestConnection(port: oldPort) }
    }

    @Test("a change to a watched pipeline file reloads it")
    func watchedFileChange() throws {
        let fixture = try ServeFixture(watch: .milliseconds(50), extraEnvironment: ["OUT2": NSTemporaryDirectory() + "loyali-out2-\(UUID().uuidString).jsonl"])
        let out2 = fixture.environment["OUT2"]!
        defer { try? FileManager.default.removeItem(atPath: out2) }
        try fixture.write("ingest.yaml", ServeFixture.defaultPipeline.replacingOccurrences(of: "${OUT}", with: "${OUT2}"))
        #expect(ServeFixture.eventually { fixture.daemon.generation == 2 }, "no reload after the file changed")
        #expect(try fixture.post(eventLine("evt_watch_1")).status == 202)
        let id = DeliveryID.make(eventID: "evt_watch_1", pipeline: "ingest", sink: "audit")
        #expect(ServeFixture.eventually { (try? String(contentsOfFile: out2, encoding: .utf8))?.contains(id) == true })
        #expect(fixture.logs.all.contains { $0.contains("configuration reloaded") && $0.contains("reason=\"file change\"") })
    }

    @Test("the pipeline watcher stats the files only once a folder reports a change, and sees changes in new subfolders")
    func watcherLooksOnlyAfterChanges() throws {
        let directory = NSTemporaryDirectory() + "loyali-watch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/nested", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for index in 0..<50 {
            try "pipeline: p\(index)\n".write(toFile: directory + "/nested/p\(index).yaml", atomically: true, encoding: .utf8)
        }
        final class Changes: Sendable { let count = Atomic<Int>(0) }
        let changes = Changes()
        let watcher = PipelineWatcher(paths: [directory], interval: .milliseconds(10)) { changes.count.add(1, ordering: .relaxed) }
        defer { watcher.stop() }
        // About 30 intervals with nothing changed: polling looked at all 50 files at each.
        Thread.sleep(forTimeInterval: 0.3)
        #expect(watcher.looks == 0, "nothing changed, yet the watcher looked at every file")
        #expect(changes.count.load(ordering: .relaxed) == 0)
        // A file in a subfolder made after the watcher started.
        try FileManager.default.createDirectory(atPath: directory + "/nested/later", withIntermediateDirectories: true)
        #expect(ServeFixture.eventually { watcher.looks >= 1 }, "a new folder is looked at")
        try "pipeline: late\n".write(toFile: directory + "/nested/later/late.yaml", atomically: true, encoding: .utf8)
        #expect(ServeFixture.eventually { changes.count.load(ordering: .relaxed) == 1 }, "a file added in the new folder")
        let settled = watcher.looks
        Thread.sleep(forTimeInterval: 0.2)
        #expect(watcher.looks <= settled + 1, "idle again: no more looks")
    }

    @Test("file sources keep working under serve, and a reload hands them on from their checkpoint without re-reading")
    func fileSourceAcrossReload() throws {
        let directory = NSTemporaryDirectory() + "loyali-serve-file-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let events = directory + "/events.jsonl"
        let out = directory + "/file-out.jsonl"
        try (eventLine("evt_file_1") + "\n").write(toFile: events, atomically: true, encoding: .utf8)
        let pipeline = """
            pipeline: tail
            source: { type: file, path: "${EVENTS}" }
            sinks:
              copy: { type: file, path: "${FILE_OUT}" }
            """
        let fixture = try ServeFixture(files: ["tail.yaml": pipeline], extraEnvironment: ["EVENTS": events, "FILE_OUT": out])
        func lines() -> [String] { ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        #expect(ServeFixture.eventually { lines().count == 1 })
        let handle = try #require(FileHandle(forWritingAtPath: events))
        handle.seekToEndOfFile()
        handle.write(Data((eventLine("evt_file_2") + "\n").utf8))
        #expect(ServeFixture.eventually { lines().count == 2 })
        try fixture.write("tail.yaml", pipeline + "\n# touched\n")
        #expect(fixture.daemon.reload(reason: "test") == nil)
        handle.write(Data((eventLine("evt_file_3") + "\n").utf8))
        try handle.close()
        #expect(ServeFixture.eventually { lines().count == 3 })
        Thread.sleep(forTimeInterval: 0.7)
        let ids = lines().compactMap { (try? JSONParser.parse($0))?.objectValue?.string("id") }
        #expect(ids == ["evt_file_1", "evt_file_2", "evt_file_3"].map { DeliveryID.make(eventID: $0, pipeline: "tail", sink: "copy") })
    }

    @Test("deliveries queued before a reload finish under the configuration they were created with")
    func queuedFinishUnderTheirConfiguration() throws {
        let old = try RecordingReceiver(secret: ServeFixture.secret, failFirst: 1)
        let new = try RecordingReceiver(secret: ServeFixture.secret)
        func pipeline(_ port: String) -> String {
            """
            pipeline: ingest
            source: { type: http, listen: "127.0.0.1:0", path: /events, token: "${INGEST_TOKEN}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              hook: { type: http, url: "http://127.0.0.1:${\(port)}/hook", retry: { schedule: [0s, 1s] } }
            """
        }
        let fixture = try ServeFixture(
            files: ["ingest.yaml": pipeline("OLD_PORT")],
            extraEnvironment: ["OLD_PORT": String(old.port), "NEW_PORT": String(new.port)])
        #expect(try fixture.post(eventLine("evt_old_1")).status == 202)
        // Its first attempt fails; the retry is due in a second, under the old configuration.
        #expect(ServeFixture.eventually { old.received.count == 1 })
        try fixture.write("ingest.yaml", pipeline("NEW_PORT"))
        #expect(fixture.daemon.reload(reason: "test") == nil)
        // The swapped sink's old lane finishes what it had; no second runner.
        #expect(fixture.daemon.runnerCount == 1)
        #expect(fixture.daemon.retiringLaneCount == 1)
        #expect(try fixture.post(eventLine("evt_new_1")).status == 202)
        #expect(ServeFixture.eventually(seconds: 6) { old.received.count == 2 && new.received.count == 1 })
        let oldID = DeliveryID.make(eventID: "evt_old_1", pipeline: "ingest", sink: "hook")
        let newID = DeliveryID.make(eventID: "evt_new_1", pipeline: "ingest", sink: "hook")
        #expect(old.received.map(\.deliveryID) == [oldID, oldID])
        #expect(old.received.map(\.attempt) == [1, 2])
        #expect(new.received.map(\.deliveryID) == [newID])
        #expect((old.received + new.received).allSatisfy { $0.verdict.valid == true })
        // The old lane, its work done, hands over and ends.
        #expect(ServeFixture.eventually { fixture.daemon.retiringLaneCount == 0 })
        #expect(try fixture.store().detail(id: oldID)?.0.status == .succeeded)
    }

    @Test("a reload that changes one file swaps only that pipeline: the others keep their lane, in-flight attempts and pace")
    func reloadLeavesOtherPipelinesRunning() throws {
        // A's sink takes one request at a time and the receiver answers after 40 ms, so a backlog
        // of A arrives at a steady pace, and two lanes sending A at once (a second runner) would
        // show as arrivals closer together than that.
        let delay = 40
        let receiver = try RecordingReceiver(secret: ServeFixture.secret, delay: .milliseconds(delay))
        let a = """
            pipeline: a
            source: { type: http, listen: "127.0.0.1:0", path: /a, token: "${INGEST_TOKEN}" }
            sign: { secrets: ["${SECRET}"] }
            sinks:
              hook: { type: http, url: "http://127.0.0.1:\(receiver.port)/a", max_in_flight: 1 }
            """
        func b(_ out: String) -> String {
            """
            pipeline: b
            source: { type: http, listen: "127.0.0.1:0", path: /b, token: "${INGEST_TOKEN}" }
            sinks:
              audit: { type: file, path: "${\(out)}" }
            """
        }
        let out2 = NSTemporaryDirectory() + "loyali-reload-b-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: out2) }
        let fixture = try ServeFixture(files: ["a.yaml": a, "b.yaml": b("OUT")], extraEnvironment: ["OUT2": out2])
        let count = 40
        let batch = (0..<count).map { eventLine("evt_steady_\($0)") }.joined(separator: "\n")
        #expect(try fixture.post(batch, contentType: "application/x-ndjson", path: "/a").status == 202)
        #expect(ServeFixture.eventually { receiver.received.count >= 8 })
        // B changes while A has a backlog and an attempt in flight.
        try fixture.write("b.yaml", b("OUT2"))
        #expect(fixture.daemon.reload(reason: "test") == nil)
        #expect(fixture.daemon.generation == 2)
        #expect(fixture.logs.all.contains { $0.contains("configuration reloaded") && $0.contains("changed=b") && $0.contains("parsed_files=1") })
        // One runner still; A's lane is the one it had.
        #expect(fixture.daemon.runnerCount == 1)
        #expect(try fixture.post(eventLine("evt_b_new"), path: "/b").status == 202)
        let bID = DeliveryID.make(eventID: "evt_b_new", pipeline: "b", sink: "audit")
        #expect(ServeFixture.eventually { (try? String(contentsOfFile: out2, encoding: .utf8))?.contains(bID) == true })
        #expect(ServeFixture.eventually(seconds: 60) { receiver.received.count >= count })
        let arrivals = receiver.received
        // Every A delivery once, at its first attempt: nothing in flight was cut off or sent again.
        #expect(arrivals.count == count)
        #expect(Set(arrivals.compactMap(\.deliveryID)).count == count)
        #expect(arrivals.allSatisfy { $0.attempt == 1 })
        // One attempt at a time throughout, and no pause: the gaps stay near the receiver's delay.
        let gaps = zip(arrivals.dropFirst(), arrivals).map { $0.receivedAtMs - $1.receivedAtMs }
        #expect(gaps.allSatisfy { $0 >= Int64(delay) - 5 }, "\(gaps)")
        // No gap stands out: under 1 s, or under ten times the median gap on a machine so loaded
        // that the usual gap is stretched too (a lane stopped by the reload waits for a claim
        // or a refresh, far longer than its neighbours).
        let median = gaps.sorted()[gaps.count / 2]
        #expect(gaps.allSatisfy { $0 < max(1_000, 10 * median) }, "\(gaps)")
        let store = try fixture.store()
        #expect(try ServeFixture.eventually {
            try arrivals.allSatisfy { try store.detail(id: $0.deliveryID!)?.0.status == .succeeded }
        })
        for arrival in arrivals {
            #expect(try store.detail(id: arrival.deliveryID!)?.1.count == 1)
        }
    }
}

// MARK: - listen

@Suite("listen", .serialized)
struct ListenTests {
    static let secret = "whsec_bGlzdGVuLXRlc3Qtc2VjcmV0LTAwMDAwMDAwMDA="

    func request(body: String, headers: [HTTPHeader]) -> HTTPServerRequest {
        HTTPServerRequest(method: "POST", path: "/hook", headers: headers, body: Array(body.utf8))
    }

    @Test("signature verdicts: valid, tampered, missing, stale, wrong secret, not checked, standard-webhooks")
    func verdicts() throws {
        let receiver = WebhookReceiver(secrets: [WebhookSecret(Self.secret)], behavior: WebhookReceiver.Behavior()) { _ in }
        let body = #"{"id":"whd_1","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{}}"#
        let now: Int64 = 1_700_000_000
        let loyali = LoyaliSignatureScheme(secrets: [WebhookSecret(Self.secret)]).signatureHeaders(body: Array(body.utf8), deliveryID: "whd_1", timestamp: now)
        let valid = receiver.verify(request(body: body, headers: loyali), now: now + 5)
        #expect(valid == WebhookReceiver.Verdict(valid: true, schemes: ["loyali"], reason: nil))
        #expect(valid.rendered == "✅ signature valid (loyali)")

        let tampered = receiver.verify(request(body: body + " ", headers: loyali), now: now)
        #expect(tampered.valid == false)
        #expect(tampered.rendered == "❌ X-Loyali-Signature: no v1 signature matches the expected signature for the given secret(s)")
        #expect(receiver.verify(request(body: body, headers: []), now: now).reason == "no X-Loyali-Signature or webhook-signature header")
        #expect(receiver.verify(request(body: body, headers: loyali), now: now + 301).reason == "X-Loyali-Signature: timestamp is 301 s old, outside the 300 s tolerance")
        let other = WebhookReceiver(secrets: [WebhookSecret("whsec_b3RoZXI=")], behavior: WebhookReceiver.Behavior()) { _ in }
        #expect(other.verify(request(body: body, headers: loyali), now: now).valid == false)
        let unchecked = WebhookReceiver(secrets: [], behavior: WebhookReceiver.Behavior()) { _ in }
        #expect(unchecked.verify(request(body: body, headers: loyali), now: now).valid == nil)
        #expect(unchecked.verify(request(body: body, headers: loyali), now: now).rendered.hasPrefix("⚠️ not verified"))

        let standard = try StandardWebhooksScheme(secrets: [WebhookSecret(Self.secret)]).signatureHeaders(body: Array(body.utf8), deliveryID: "whd_1", timestamp: now)
        #expect(receiver.verify(request(body: body, headers: standard), now: now).valid == true)
        #expect(receiver.verify(request(body: body, headers: standard), now: now).schemes == ["standard-webhooks"])
        let broken = standard.map { $0.name == "webhook-signature" ? HTTPHeader(name: $0.name, value: "v1,AAAA") : $0 }
        #expect(receiver.verify(request(body: body, headers: broken), now: now).reason == "webhook-signature: no v1 signature matches the expected signature for the given secret(s)")
    }

    @Test("one listen for every local pipeline: secrets that are not base64 do not stop Standard Webhooks checks")
    func mixedSecretsVerifyBothSchemes() throws {
        let loyaliSecret = WebhookSecret("whsec_demo_notifications_not_for_production")
        let receiver = WebhookReceiver(secrets: [loyaliSecret, WebhookSecret(Self.secret)], behavior: WebhookReceiver.Behavior()) { _ in }
        let body = Array(#"{"id":"whd_1","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{}}"#.utf8)
        let now: Int64 = 1_700_000_000
        let standard = try StandardWebhooksScheme(secrets: [WebhookSecret(Self.secret)]).signatureHeaders(body: body, deliveryID: "whd_1", timestamp: now)
        let verdict = receiver.verify(HTTPServerRequest(method: "POST", path: "/profiles", headers: standard, body: body), now: now)
        #expect(verdict == WebhookReceiver.Verdict(valid: true, schemes: ["standard-webhooks"], reason: nil))
        let loyali = LoyaliSignatureScheme(secrets: [loyaliSecret]).signatureHeaders(body: body, deliveryID: "whd_1", timestamp: now)
        #expect(receiver.verify(HTTPServerRequest(method: "POST", path: "/push", headers: loyali, body: body), now: now).valid == true)
        // With no base64 secret at all, the reason still says why.
        let onlyLoyali = WebhookReceiver(secrets: [loyaliSecret], behavior: WebhookReceiver.Behavior()) { _ in }
        let refused = onlyLoyali.verify(HTTPServerRequest(method: "POST", path: "/profiles", headers: standard, body: body), now: now)
        #expect(refused.valid == false)
        #expect(refused.reason?.hasPrefix("webhook-signature: ") == true)
    }

    @Test("answers as told: --fail-first per delivery, then --status, with the details reported")
    func answersAsTold() throws {
        var behavior = WebhookReceiver.Behavior()
        behavior.failFirst = 2
        behavior.status = 204
        let seen = Mutex<[WebhookReceiver.Received]>([])
        let receiver = WebhookReceiver(secrets: [WebhookSecret(Self.secret)], behavior: behavior) { received in seen.withLock { $0.append(received) } }
        let server = try HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), handler: receiver)
        let body = #"{"id":"whd_2","event_type":"tier.upgraded","created_at":"2024-01-20T14:30:00Z","data":{"tier":"gold"}}"#
        let connection = try TestConnection(port: server.address.port)
        var statuses: [Int] = []
        for attempt in 1...3 {
            let signature = LoyaliSignatureScheme(secrets: [WebhookSecret(Self.secret)])
                .signatureHeaders(body: Array(body.utf8), deliveryID: "whd_2", timestamp: Int64(Date().timeIntervalSince1970))
            let headers = [("Content-Type", "application/json"), ("X-Loyali-Event", "tier.upgraded"), ("X-Loyali-Delivery", "whd_2"), ("X-Loyali-Attempt", String(attempt))]
                + signature.map { ($0.name, $0.value) }
            statuses.append(try connection.request("POST", "/hook", headers: headers, body: Array(body.utf8)).status)
        }
        #expect(statuses == [500, 500, 204])
        let received = seen.withLock { $0 }
        #expect(received.map(\.attempt) == [1, 2, 3])
        #expect(received.allSatisfy { $0.verdict.valid == true && $0.eventType == "tier.upgraded" && $0.deliveryID == "whd_2" })
        let json = received[2].json
        #expect(json["status"] == .number(JSONNumber(204)))
        #expect(json["body"]?.objectValue?["data"] == .object(JSONObject(["tier": .string("gold")])))
        #expect(try TestConnection(port: server.address.port).request("GET", "/").status == 405)
    }
}

extension ListenTests {
    @Test("limits set from code past any flag's maximum saturate instead of trapping")
    func extremeLimitsFromCode() throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeout = .seconds(Int64.max)
        limits.idleTimeoutSeconds = Int.max
        let receiver = WebhookReceiver(secrets: [], behavior: WebhookReceiver.Behavior()) { _ in }
        let server = try HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), limits: limits, handler: receiver)
        #expect(try TestConnection(port: server.address.port).request("POST", "/", body: Array("{}".utf8)).status == 200)
        Thread.sleep(forTimeInterval: 0.2)
        server.stop(within: .zero)
        #expect(Duration.seconds(Int64.max).clampedNanoseconds == .max)
        #expect(Duration.seconds(-5).clampedNanoseconds == 0)
        #expect(Duration.milliseconds(1_500).clampedNanoseconds == 1_500_000_000)
    }

    @Test("stopping with a delayed answer pending answers 503 instead of aborting in libmicrohttpd")
    func stopWithDelayedAnswerPending() throws {
        var behavior = WebhookReceiver.Behavior()
        behavior.delay = .seconds(30)
        let receiver = WebhookReceiver(secrets: [], behavior: behavior) { _ in }
        let server = try HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), handler: receiver)
        let answers = Mutex<[Int]>([])
        let clients = DispatchGroup()
        for _ in 0..<3 {
            clients.enter()
            Thread.detachNewThread {
                defer { clients.leave() }
                let status = (try? TestConnection(port: server.address.port).request("POST", "/", body: Array("{}".utf8)).status) ?? -1
                answers.withLock { $0.append(status) }
            }
        }
        #expect(ServeFixture.eventually { server.pendingResponses == 3 })
        let started = ContinuousClock.now
        server.stop(within: .milliseconds(50))
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(clients.wait(timeout: .now() + 5) == .success)
        #expect(answers.withLock { $0 } == [503, 503, 503])
        #expect(server.pendingResponses == 0)
    }
}

// MARK: - The executables

/// Runs `loyali-hooks` as a child process (for signals and kill -9).
final class ChildProcess {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The binary: `$LOYALI_HOOKS_BIN`, else the one built next to the tests.
    static let binary: URL? = {
        if let given = ProcessInfo.processInfo.environment["LOYALI_HOOKS_BIN"], !given.isEmpty { return URL(fileURLWithPath: given) }
        var candidates: [URL] = []
        if let bundle = Bundle.main.executableURL?.deletingLastPathComponent() { candidates.append(bundle.appendingPathComponent("loyali-hooks")) }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/loyali-hooks"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    let process = Process()
    let stdout: URL
    let stderr: URL

    init(_ arguments: [String], environment: [String: String], directory: String) throws {
        let binary = try #require(Self.binary, "loyali-hooks binary not found; run swift build or set LOYALI_HOOKS_BIN")
        stdout = URL(fileURLWithPath: directory + "/child-\(UUID().uuidString).out")
        stderr = URL(fileURLWithPath: directory + "/child-\(UUID().uuidString).err")
        try Data().write(to: stdout)
        try Data().write(to: stderr)
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        process.standardInput = FileHandle.nullDevice
        try process.runTiedToTests()
    }

    deinit { process.sendSignal(SIGKILL) }

    var output: String { (try? String(contentsOf: stdout, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits (bounded) for the exit; returns the status, or nil if it did not exit.
    func stop(with signal: Int32, within seconds: Double = 15) -> Int32? {
        process.sendSignal(signal)
        guard ServeFixture.eventually(seconds: seconds, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    /// A port that was free a moment ago.
    static func freePort() throws -> Int {
        let (fd, port) = try ListenAddress(host: "127.0.0.1", port: 0).bind()
        close(fd)
        return port
    }
}

@Suite("serve and listen executables", .serialized)
struct ServeExecutableTests {
    /// A temporary directory with one ingest pipeline on `ingestPort`.
    static func setUp(ingestPort: Int, sink: String = #"{ type: file, path: out.jsonl }"#) throws -> String {
        let directory = NSTemporaryDirectory() + "loyali-serve-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
            pipeline: ingest
            source: { type: http, listen: "127.0.0.1:\(ingestPort)", path: /events, token: "${INGEST_TOKEN}" }
            sinks:
              audit: \(sink)
            """.write(toFile: directory + "/ingest.yaml", atomically: true, encoding: .utf8)
        return directory
    }

    static func waitReady(adminPort: Int) -> Bool {
        ServeFixture.eventually(seconds: 60) { (try? TestConnection(port: adminPort).request("GET", "/readyz").status) == 200 }
    }

    @Test("SIGTERM stops serve gracefully with exit 0; SIGHUP reloads")
    func sigterm() throws {
        let (ingestPort, adminPort) = (try ChildProcess.freePort(), try ChildProcess.freePort())
        let directory = try Self.setUp(ingestPort: ingestPort)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let child = try ChildProcess(
            ["serve", "ingest.yaml", "--state", "state", "--admin", "127.0.0.1:\(adminPort)", "--no-watch"],
            environment: ["INGEST_TOKEN": "cli-token"], directory: directory)
        #expect(Self.waitReady(adminPort: adminPort), "serve never became ready: \(child.errors)")
        let response = try TestConnection(port: ingestPort).request(
            "POST", "/events", headers: [("Content-Type", "application/json"), ("Authorization", "Bearer cli-token")], body: Array(eventLine("evt_cli_1").utf8))
        #expect(response.status == 202)
        child.process.sendSignal(SIGHUP)
        #expect(ServeFixture.eventually { child.errors.contains("configuration reloaded") && child.errors.contains("reason=SIGHUP") })
        #expect(child.stop(with: SIGTERM) == 0, "\(child.errors)")
        #expect(child.errors.contains("stopped: 1 event read"))
        #expect(!child.errors.contains("cli-token"), "the ingest token reached the log")
        let id = DeliveryID.make(eventID: "evt_cli_1", pipeline: "ingest", sink: "audit")
        #expect(try String(contentsOfFile: directory + "/out.jsonl", encoding: .utf8).contains(id))
    }

    @Test("serve lives on when the pipe its log goes to is closed: a write fails with EPIPE instead of SIGPIPE ending it")
    func closedLogPipe() throws {
        let (ingestPort, adminPort) = (try ChildProcess.freePort(), try ChildProcess.freePort())
        let directory = try Self.setUp(ingestPort: ingestPort)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary: URL = try #require(ChildProcess.binary, "loyali-hooks binary not found")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "ingest.yaml", "--state", "state", "--admin", "127.0.0.1:\(adminPort)", "--no-watch"]
        process.environment = ["PATH": "/usr/bin:/bin", "INGEST_TOKEN": "cli-token"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let log = Pipe()
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.runTiedToTests()
        defer {
            process.sendSignal(SIGKILL)
            process.waitUntilExit()
        }
        #expect(Self.waitReady(adminPort: adminPort), "serve never became ready")
        // The reader goes away, as a log shipper that restarts or a `| tee` that ended.
        try log.fileHandleForReading.close()
        // Each of these logs a line into the closed pipe.
        process.sendSignal(SIGHUP)
        let response = try TestConnection(port: ingestPort).request(
            "POST", "/events", headers: [("Content-Type", "application/json"), ("Authorization", "Bearer cli-token")], body: Array(eventLine("evt_pipe_1").utf8))
        #expect(response.status == 202)
        let id = DeliveryID.make(eventID: "evt_pipe_1", pipeline: "ingest", sink: "audit")
        #expect(ServeFixture.eventually { (try? String(contentsOfFile: directory + "/out.jsonl", encoding: .utf8))?.contains(id) == true })
        #expect(process.isRunning, "serve ended (\(process.isRunning ? "" : "\(process.terminationReason) \(process.terminationStatus)"))")
        process.sendSignal(SIGTERM)
        // Reading the status of a running process traps, which would end the whole test run.
        try #require(ServeFixture.eventually(seconds: 60) { !process.isRunning })
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(process.terminationReason) \(process.terminationStatus)")
    }

    @Test("a port already in use is a configuration problem: exit 2 naming the address, for serve's ingest and admin listeners and for listen")
    func portInUse() throws {
        let (taken, port) = try ListenAddress(host: "127.0.0.1", port: 0).bind()
        defer { close(taken) }
        let freeAdmin = try ChildProcess.freePort()
        let directory = try Self.setUp(ingestPort: port)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runs: [[String]] = [
            ["serve", "ingest.yaml", "--state", "state-a", "--admin", "127.0.0.1:\(freeAdmin)", "--no-watch"],
            ["listen", "--port", String(port)],
        ]
        for arguments in runs {
            let child = try ChildProcess(arguments, environment: ["INGEST_TOKEN": "cli-token"], directory: directory)
            // Reading the status of a running process traps, which would end the whole test run.
            try #require(ServeFixture.eventually(seconds: 60) { !child.process.isRunning }, "\(arguments[0]) kept running")
            #expect(child.process.terminationStatus == 2, "\(arguments[0]): \(child.errors)")
            #expect(child.errors.contains("127.0.0.1:\(port): error: cannot listen: port \(port) is already in use"), "\(child.errors)")
        }
        // The admin listener on the taken port, the ingest one free.
        let other = try Self.setUp(ingestPort: try ChildProcess.freePort())
        defer { try? FileManager.default.removeItem(atPath: other) }
        let child = try ChildProcess(
            ["serve", "ingest.yaml", "--state", "state", "--admin", "127.0.0.1:\(port)", "--no-watch"], environment: ["INGEST_TOKEN": "cli-token"],
            directory: other)
        try #require(ServeFixture.eventually(seconds: 60) { !child.process.isRunning })
        #expect(child.process.terminationStatus == 2, "\(child.errors)")
        #expect(child.errors.contains("127.0.0.1:\(port): error: cannot listen: port \(port) is already in use"), "\(child.errors)")
    }

    @Test("listen --delay stops cleanly on SIGINT and SIGTERM while a delayed request is pending", arguments: [SIGINT, SIGTERM])
    func listenStopsWithDelayedRequest(signal: Int32) throws {
        let port = try ChildProcess.freePort()
        let directory = NSTemporaryDirectory() + "loyali-listen-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let child = try ChildProcess(["listen", "--port", String(port), "--delay", "10s"], environment: [:], directory: directory)
        #expect(ServeFixture.eventually(seconds: 10) { child.errors.contains("listening on") }, "\(child.errors)")
        let answer = Mutex<Int?>(nil)
        let client = DispatchGroup()
        client.enter()
        Thread.detachNewThread {
            defer { client.leave() }
            let status = try? TestConnection(port: port).request("POST", "/hook", body: Array("{}".utf8)).status
            answer.withLock { $0 = status ?? -1 }
        }
        // The receiver prints a request when it arrives, before its delayed answer.
        #expect(ServeFixture.eventually(seconds: 10) { !child.output.isEmpty }, "\(child.errors)")
        #expect(child.stop(with: signal, within: 8) == 0, "\(child.errors)")
        #expect(!child.errors.contains("MHD_stop_daemon"), "\(child.errors)")
        #expect(client.wait(timeout: .now() + 5) == .success)
        #expect(answer.withLock { $0 } == 503)
    }

    @Test("kill -9 during ingest loses no event that got a 202")
    func killNine() throws {
        let (ingestPort, adminPort) = (try ChildProcess.freePort(), try ChildProcess.freePort())
        // The first attempt is far off, so deliveries sit in the store: only durability is tested.
        let directory = try Self.setUp(ingestPort: ingestPort, sink: #"{ type: file, path: out.jsonl, retry: { schedule: [1h] } }"#)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let child = try ChildProcess(
            ["serve", "ingest.yaml", "--state", "state", "--admin", "127.0.0.1:\(adminPort)", "--no-watch"],
            environment: ["INGEST_TOKEN": "cli-token"], directory: directory)
        #expect(Self.waitReady(adminPort: adminPort), "serve never became ready: \(child.errors)")
        let accepted = Mutex<[String]>([])
        let done = DispatchGroup()
        for client in 0..<4 {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                guard let connection = try? TestConnection(port: ingestPort) else { return }
                for n in 0..<10_000 {
                    guard let response = try? connection.request(
                        "POST", "/events", headers: [("Content-Type", "application/json"), ("Authorization", "Bearer cli-token")],
                        body: Array(eventLine("evt_k9_\(client)_\(n)").utf8)), response.status == 202
                    else { return }
                    accepted.withLock { $0.append("evt_k9_\(client)_\(n)") }
                }
            }
        }
        // Bounded waits on the condition, generous for a loaded machine.
        #expect(ServeFixture.eventually(seconds: 60) { accepted.withLock { $0.count } >= 2_000 }, "\(accepted.withLock { $0.count }) accepted")
        child.process.sendSignal(SIGKILL)
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(ServeFixture.eventually(seconds: 60) { !child.process.isRunning })
        let ids = accepted.withLock { $0 }
        let store = try SQLiteDeliveryStore(directory: directory + "/state")
        let lost = try ids.filter { try store.detail(id: DeliveryID.make(eventID: $0, pipeline: "ingest", sink: "audit")) == nil }
        #expect(lost.isEmpty, "\(lost.count) of \(ids.count) events answered 202 are missing after kill -9: \(lost.prefix(3))")
    }

    @Test("listen prints each webhook with its verdict, and --json as one line each")
    func listen() throws {
        let port = try ChildProcess.freePort()
        let directory = NSTemporaryDirectory() + "loyali-listen-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let secret = ListenTests.secret
        let child = try ChildProcess(["listen", "--port", String(port), "--secret", secret, "--json", "--fail-first", "1"], environment: [:], directory: directory)
        #expect(ServeFixture.eventually { child.errors.contains("listening on http://127.0.0.1:\(port)/") }, "\(child.errors)")
        let body = #"{"id":"whd_cli","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{"points":5}}"#
        var statuses: [Int] = []
        for attempt in 1...2 {
            let signature = LoyaliSignatureScheme(secrets: [WebhookSecret(secret)])
                .signatureHeaders(body: Array(body.utf8), deliveryID: "whd_cli", timestamp: Int64(Date().timeIntervalSince1970))
            let headers = [("Content-Type", "application/json"), ("X-Loyali-Delivery", "whd_cli"), ("X-Loyali-Attempt", String(attempt))]
                + signature.map { ($0.name, $0.value) }
            statuses.append(try TestConnection(port: port).request("POST", "/hooks/loyali", headers: headers, body: Array(body.utf8)).status)
        }
        // A forged one.
        _ = try TestConnection(port: port).request(
            "POST", "/hooks/loyali", headers: [("X-Loyali-Signature", "t=1,v1=00"), ("X-Loyali-Delivery", "whd_forged")], body: Array(body.utf8))
        #expect(statuses == [500, 200])
        #expect(ServeFixture.eventually { child.output.split(separator: "\n").count == 3 })
        #expect(child.stop(with: SIGINT) == 0)
        let lines = try child.output.split(separator: "\n").map { try #require(try JSONParser.parse(String($0)).objectValue) }
        #expect(lines.map { $0["status"] } == [.number(JSONNumber(500)), .number(JSONNumber(200)), .number(JSONNumber(500))])
        #expect(lines[0]["signature"]?.objectValue?["valid"] == .bool(true))
        #expect(lines[0].string("event_type") == "points.earned")
        #expect(lines[1].int("attempt") == 2)
        #expect(lines[2]["signature"]?.objectValue?["valid"] == .bool(false))
        #expect(lines[2]["signature"]?.objectValue?.string("reason")?.contains("timestamp") == true || lines[2]["signature"]?.objectValue?.string("reason")?.contains("no v1") == true)

        // The human format: time, type, delivery id, attempt, verdict, status, then the pretty body.
        let humanPort = try ChildProcess.freePort()
        let human = try ChildProcess(["listen", "--port", String(humanPort), "--secret", secret], environment: [:], directory: directory)
        #expect(ServeFixture.eventually { human.errors.contains("listening on") }, "\(human.errors)")
        let signature = LoyaliSignatureScheme(secrets: [WebhookSecret(secret)])
            .signatureHeaders(body: Array(body.utf8), deliveryID: "whd_cli", timestamp: Int64(Date().timeIntervalSince1970))
        let headers = [("X-Loyali-Event", "points.earned"), ("X-Loyali-Delivery", "whd_cli"), ("X-Loyali-Attempt", "1")] + signature.map { ($0.name, $0.value) }
        #expect(try TestConnection(port: humanPort).request("POST", "/", headers: headers, body: Array(body.utf8)).status == 200)
        #expect(ServeFixture.eventually { human.output.contains("\"points\": 5") })
        #expect(human.stop(with: SIGTERM) == 0)
        #expect(human.output.contains("  points.earned  whd_cli  attempt 1  ✅ signature valid (loyali)  → 200\n"), "\(human.output)")
    }
}

@Suite("serve: request helpers")
struct RequestHelperTests {
    /// The gate only asks ``RequestHeadCheck`` for a verdict once the new bytes hold a blank line
    /// (or the limit is passed): that must be exactly when the check can say something other than
    /// "incomplete", wherever the bytes were split into segments.
    @Test(arguments: [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "POST /e HTTP/1.1\nA: b\n\n", "\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\n\r\n", "GET / HTTP/1.1\r\nA: b\r\nC", "bad line\r\n\r\n", "GET / HTTP/1.1\r\n\rX\r\n",
    ])
    func gateAsksForAVerdictWhenTheHeadCanHaveEnded(text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { all in
            for end in 1...all.count {
                let prefix = UnsafeBufferPointer(rebasing: all[..<end])
                let judged = RequestHeadCheck.inspect(prefix, limit: 1024, maxBodyBytes: 1024) != .incomplete
                // Split anywhere before `end`: the new bytes alone still show the head's end.
                for split in 0..<end {
                    let seen = ConnectionGate.hasBlankLine(UnsafeBufferPointer(rebasing: all[..<split]), from: 0)
                        || ConnectionGate.hasBlankLine(prefix, from: split)
                    #expect(!judged || seen, "\(text.debugDescription) judged at \(end) bytes, split at \(split)")
                }
            }
        }
    }

    @Test(arguments: [
        ("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER   abc  ", "abc"), ("Bearer", nil), ("Bearer ", nil),
        ("Basic abc", nil), ("Bearerabc", nil), ("Bearer a b", "a b"),
    ] as [(String, String?)])
    func bearerToken(header: String, token: String?) {
        #expect(HTTPServerRequest(method: "POST", path: "/", headers: [HTTPHeader(name: "authorization", value: header)]).bearerToken == token)
    }

    @Test(arguments: [
        ("application/json", "application/json"), ("Application/JSON; charset=utf-8", "application/json"),
        (" application/x-ndjson ;x=1", "application/x-ndjson"), ("", ""),
    ])
    func mediaType(header: String, type: String) {
        #expect(HTTPServerRequest(method: "POST", path: "/", headers: [HTTPHeader(name: "Content-Type", value: header)]).mediaType == type)
    }

    @Test func tokensNeverPrint() {
        let token = BearerToken("hunter2")!
        #expect("\(token)" == "<redacted>")
        #expect(String(reflecting: token) == "<redacted>")
        #expect(token.matches("hunter2"))
        #expect(!token.matches("hunter3"))
        #expect(!token.matches(nil))
        #expect(BearerToken("") == nil)
    }

    @Test(arguments: [("127.0.0.1:8787", "127.0.0.1", 8787), ("[::1]:9", "::1", 9), (":80", "0.0.0.0", 80), ("localhost:0", "localhost", 0)])
    func listenAddresses(text: String, host: String, port: Int) throws {
        let address = try #require(ListenAddress(text))
        #expect(address.host == host)
        #expect(address.port == port)
    }

    @Test(arguments: ["8787", "example.com:80", "127.0.0.1:99999", "127.0.0.1:x", "[::1:80"])
    func badListenAddresses(text: String) {
        #expect(ListenAddress(text) == nil)
    }
}
