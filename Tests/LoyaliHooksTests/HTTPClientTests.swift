import CCurl
import Foundation
import Synchronization
import Testing

@testable import LoyaliHooks

// MARK: - Loopback receiver

/// A throwaway HTTP/1.1 receiver on 127.0.0.1, run as a Python subprocess so that the tests never
/// depend on an HTTP parser of our own. Each path is one behaviour the transport must handle.
private let curlTestReceiverScript = #"""
import http.server, json, os, socket, struct, sys, threading, time

lock = threading.Lock()
counts = {"connections": 0, "open": 0, "max_open": 0, "target_hits": 0, "huge_bytes_sent": 0, "huge_done": 0}

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    def get_request(self):
        pair = super().get_request()
        with lock:
            counts["connections"] += 1
            counts["open"] += 1
            counts["max_open"] = max(counts["max_open"], counts["open"])
        return pair
    def shutdown_request(self, request):
        # Called once the connection's handler ends, i.e. when the socket closes.
        with lock:
            counts["open"] -= 1
        super().shutdown_request(request)

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *args):
        pass
    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.do_POST()
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = self.path
        if path == "/ok":
            self.reply(200, b"hello from the receiver")
        elif path == "/echo":
            lines = "".join(f"{name}: {value}\n" for name, value in self.headers.items())
            self.reply(200, lines.encode() + b"\n" + body)
        elif path == "/redirect":
            self.reply(302, b"moved", [("Location", "/target")])
        elif path == "/target":
            with lock:
                counts["target_hits"] += 1
            self.reply(200, b"target")
        elif path == "/gone":
            self.reply(410, b"gone")
        elif path == "/ratelimit":
            self.reply(429, b"slow down", [("Retry-After", "120")])
        elif path == "/unavailable":
            self.reply(503, b"", [("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")])
        elif path == "/error":
            self.reply(500, b"internal error")
        elif path == "/brief":
            time.sleep(0.02)
            self.reply(200, b"after a moment")
        elif path == "/pause":
            time.sleep(0.3)
            self.reply(200, b"after a pause")
        elif path == "/slow":
            time.sleep(5)
            self.reply(200, b"late")
        elif path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(800):
                    self.wfile.write(chunk)
                    with lock:
                        counts["huge_bytes_sent"] += len(chunk)
            except OSError:
                pass
            with lock:
                counts["huge_done"] = 1
            self.close_connection = True
        elif path == "/hugeheaders":
            self.send_response(200)
            for index in range(2000):
                self.send_header(f"X-Padding-{index}", "p" * 60)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/reset":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"partial")
            self.wfile.flush()
            # Linger 0: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(self.connection.detach())
            self.close_connection = True
        elif path == "/stats":
            with lock:
                self.reply(200, json.dumps(counts).encode())
        else:
            self.reply(404, b"no such path")

def exit_when_orphaned():
    # The test holds our stdin open; when it closes it (or dies), we go too.
    sys.stdin.buffer.read()
    os._exit(0)

threading.Thread(target=exit_when_orphaned, daemon=True).start()
# A hard stop, whatever happens to the test process. Long: the lifeline above and SIGKILL when the
# test process dies (runTiedToTests) end it sooner, and a suite on a loaded machine can take minutes.
threading.Timer(900, lambda: os._exit(0)).start()

server = Server(("127.0.0.1", 0), Handler)
spare = socket.socket()
spare.bind(("127.0.0.1", 0))
closed_port = spare.getsockname()[1]
spare.close()
print(server.server_address[1], closed_port, flush=True)
server.serve_forever()
"""#

let curlTestPythonAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

/// One receiver process per test, so counts never mix between tests running in parallel.
final class CurlTestReceiver {
    let process = Process()
    /// Held open for the receiver's lifetime: closing it tells the receiver to exit.
    let lifeline = Pipe()
    let port: Int
    /// A port that was free a moment ago and has nothing listening.
    let closedPort: Int

    init() throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", curlTestReceiverScript]
        process.standardOutput = output
        process.standardInput = lifeline
        process.standardError = FileHandle.nullDevice
        try process.runTiedToTests()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            line.append(chunk)
        }
        let ports = String(decoding: line, as: UTF8.self).split(separator: " ").compactMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard ports.count == 2 else {
            try? lifeline.fileHandleForWriting.close()
            process.waitUntilExit()
            throw CurlTestReceiverError(message: "the loopback receiver did not start")
        }
        port = ports[0]
        closedPort = ports[1]
    }

    deinit {
        stop()
    }

    private func stop() {
        try? lifeline.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// The receiver's counters, fetched through the client under test.
    func stats(using client: CurlHTTPClient) async throws -> [String: Int] {
        let response = await client.send(HTTPRequest(url: url("/stats"), timeout: .seconds(30)))
        guard case .response(200, _, let body, _) = response.outcome else {
            throw CurlTestReceiverError(message: "stats failed: \(response.outcome)")
        }
        return try JSONDecoder().decode([String: Int].self, from: Data(body))
    }
}

struct CurlTestReceiverError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A POST of `{}` to `url`. The default deadlines are generous, so a loaded machine's slow
/// receiver is not mistaken for a failure; tests of deadlines pass their own `timeout`.
func curlTestPost(_ url: String, timeout: Duration = .seconds(30), maxResponseBytes: Int = 65_536) -> HTTPRequest {
    HTTPRequest(
        url: url, headers: [HTTPHeader(name: "Content-Type", value: "application/json")], body: Array("{}".utf8),
        timeout: timeout, connectTimeout: .seconds(10), maxResponseBytes: maxResponseBytes)
}

// MARK: - Statuses

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientReturnsStatusAndBodySnippet() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    let response = await client.send(curlTestPost(receiver.url("/ok")))
    #expect(response.outcome == .response(
        status: 200, retryAfter: nil, bodySnippet: Array("hello from the receiver".utf8), truncated: false))
    #expect(response.durationMs >= 0 && response.durationMs < 30_000)

    // A cap shorter than the body keeps exactly the cap and says so.
    let capped = await client.send(curlTestPost(receiver.url("/ok"), maxResponseBytes: 5))
    #expect(capped.outcome == .response(status: 200, retryAfter: nil, bodySnippet: Array("hello".utf8), truncated: true))
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientSendsExactlyTheGivenHeadersAndBody() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    let body = Array(#"{"id":"whd_1","event_type":"tier.upgraded","data":{"points":1000000000000}}"#.utf8)
    let headers = [
        HTTPHeader(name: "Content-Type", value: "application/json"),
        HTTPHeader(name: "User-Agent", value: "loyali-hooks/1.2.3"),
        HTTPHeader(name: "X-Loyali-Signature", value: "t=1705761000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v1=00ff"),
        HTTPHeader(name: "X-Loyali-Event", value: "tier.upgraded"),
        HTTPHeader(name: "X-Loyali-Delivery", value: "whd_1"),
        HTTPHeader(name: "X-Loyali-Attempt", value: "3"),
        HTTPHeader(name: "X-Empty", value: ""),
    ]
    let response = await client.send(HTTPRequest(
        url: receiver.url("/echo"), headers: headers, body: body, timeout: .seconds(2), connectTimeout: .seconds(1)))
    guard case .response(200, _, let echo, false) = response.outcome else {
        Issue.record("unexpected outcome \(response.outcome)")
        return
    }
    let text = String(decoding: echo, as: UTF8.self)
    let parts = text.components(separatedBy: "\n\n")
    let received: [HTTPHeader] = parts[0].split(separator: "\n").map { line in
        let field = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return HTTPHeader(name: String(field[0]), value: field[1].trimmingCharacters(in: .whitespaces))
    }
    let givenNames = Set(headers.map(\.name))
    // Only libcurl's framing headers are added: no Accept, Expect, or form Content-Type.
    let added = received.filter { !givenNames.contains($0.name) }
    #expect(added.map(\.name).sorted() == ["Content-Length", "Host"])
    #expect(added.contains(HTTPHeader(name: "Content-Length", value: String(body.count))))
    #expect(added.contains(HTTPHeader(name: "Host", value: "127.0.0.1:\(receiver.port)")))
    #expect(received.filter { givenNames.contains($0.name) } == headers)
    #expect(Array(parts.dropFirst().joined(separator: "\n\n").utf8) == body)
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientNeverFollowsRedirects() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    let response = await client.send(curlTestPost(receiver.url("/redirect")))
    #expect(response.outcome == .response(status: 302, retryAfter: nil, bodySnippet: Array("moved".utf8), truncated: false))
    #expect(try await receiver.stats(using: client)["target_hits"] == 0)
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientReturnsErrorStatusesAsResponses() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    #expect(await client.send(curlTestPost(receiver.url("/gone"))).status == 410)
    #expect(await client.send(curlTestPost(receiver.url("/error"))).outcome == .response(
        status: 500, retryAfter: nil, bodySnippet: Array("internal error".utf8), truncated: false))
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientCapturesRetryAfterCaseInsensitively() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    let limited = await client.send(curlTestPost(receiver.url("/ratelimit")))
    #expect(limited.outcome == .response(status: 429, retryAfter: "120", bodySnippet: Array("slow down".utf8), truncated: false))
    let unavailable = await client.send(curlTestPost(receiver.url("/unavailable")))
    #expect(unavailable.outcome == .response(
        status: 503, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT", bodySnippet: [], truncated: false))
}

// MARK: - Failures

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientReportsConnectionRefused() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    let response = await client.send(curlTestPost("http://127.0.0.1:\(receiver.closedPort)/hook"))
    let error = try #require(response.error)
    #expect(error.errorClass == .connectionRefused)
    #expect(error.description.hasPrefix("connection_refused: "))
    #expect(error.message.contains("\(receiver.closedPort)"))
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientEnforcesTheOverallDeadline() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    let response = await client.send(curlTestPost(receiver.url("/slow"), timeout: .milliseconds(300)))
    #expect(response.error?.errorClass == .timeout)
    // Measured on the client's thread, so a busy test machine cannot stretch it: at the deadline,
    // well before the receiver's 5 s answer.
    #expect(response.durationMs >= 250 && response.durationMs < 2000)
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientStopsReadingAHugeResponseAtTheCap() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    // Within the deadline, or the outcome would be a timeout.
    let response = await client.send(curlTestPost(receiver.url("/huge"), maxResponseBytes: 65_536))
    guard case .response(let status, _, let snippet, let truncated) = response.outcome else {
        Issue.record("unexpected outcome \(response.outcome)")
        return
    }
    #expect(status == 200)
    #expect(truncated)
    #expect(snippet.count == 65_536)
    #expect(snippet.allSatisfy { $0 == UInt8(ascii: "x") })
    // The aborted connection is not reused; the next request still works.
    #expect(await client.send(curlTestPost(receiver.url("/ok"))).status == 200)
    // The receiver's writes failed once the client hung up: most of the 50 MB was never sent.
    // (Its handler notices within moments; poll for that, briefly.)
    var stats = try await receiver.stats(using: client)
    for _ in 0..<40 where stats["huge_done"] != 1 {
        try await Task.sleep(for: .milliseconds(25))
        stats = try await receiver.stats(using: client)
    }
    #expect(stats["huge_done"] == 1)
    #expect(try #require(stats["huge_bytes_sent"]) < 25 * 1024 * 1024)
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientRefusesOversizedResponseHeaders() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    let response = await client.send(curlTestPost(receiver.url("/hugeheaders")))
    #expect(response.error?.errorClass == .tooLarge)
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientReportsAResetMidResponse() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    let response = await client.send(curlTestPost(receiver.url("/reset")))
    let error = try #require(response.error, "outcome was \(response.outcome)")
    #expect(error.errorClass == .reset)
}

@Test func httpClientRejectsUnsafeRequestsWithoutSending() async throws {
    let client = try CurlHTTPClient()
    let injected = HTTPRequest(
        url: "http://127.0.0.1:1/hook", headers: [HTTPHeader(name: "X-Token", value: "abc\r\nX-Evil: 1")],
        timeout: .seconds(1))
    let injectedError = try #require(await client.send(injected).error)
    #expect(injectedError.errorClass == .invalidRequest)
    #expect(!injectedError.message.contains("abc"), "a header value may be a secret and is never echoed")

    let badName = HTTPRequest(url: "http://127.0.0.1:1/hook", headers: [HTTPHeader(name: "Bad Name", value: "x")])
    #expect(await client.send(badName).error?.errorClass == .invalidRequest)
    let framing = HTTPRequest(url: "http://127.0.0.1:1/hook", headers: [HTTPHeader(name: "content-length", value: "0")])
    #expect(await client.send(framing).error?.errorClass == .invalidRequest)

    for url in ["file:///etc/passwd", "gopher://127.0.0.1:1/", "ftp://127.0.0.1:1/x", "not a url"] {
        let response = await client.send(HTTPRequest(url: url, timeout: .seconds(1), connectTimeout: .seconds(1)))
        #expect(response.error?.errorClass == .invalidRequest, "\(url): \(response.outcome)")
    }
}

@Test func curlRequestBytesHoldTheHeaderLinesThenTheBodyInOneBuffer() throws {
    func lines(_ bytes: borrowing CurlRequestBytes) -> [String] {
        var lines: [String] = []
        var node = bytes.head
        while let current = node {
            lines.append(String(cString: current.pointee.data))
            node = current.pointee.next
        }
        return lines
    }
    let body = Array(#"{"id":"whd_1"}"#.utf8)
    let bytes = try CurlRequestBytes(
        headers: [
            // Given in any case, a suppressed name is sent as given and not blanked; a name of the
            // same length that differs ("X-Pect"), or one that only starts with it, changes nothing.
            HTTPHeader(name: "CONTENT-TYPE", value: "application/json"),
            HTTPHeader(name: "X-Pect", value: "1"),
            HTTPHeader(name: "Accept-Language", value: "en"),
            HTTPHeader(name: "X-Empty", value: ""),
        ],
        body: body)
    #expect(lines(bytes) == ["CONTENT-TYPE: application/json", "X-Pect: 1", "Accept-Language: en", "X-Empty;", "expect:", "accept:"])
    #expect(Array(UnsafeRawBufferPointer(start: bytes.body, count: bytes.bodyCount)) == body)

    let bare = try CurlRequestBytes(headers: [HTTPHeader(name: "eXpEcT", value: "")], body: [])
    #expect(lines(bare) == ["eXpEcT;", "accept:", "content-type:"])
    #expect(bare.bodyCount == 0)

    // Framing headers are refused in any case; the names are matched by length first.
    for name in ["Content-Length", "TRANSFER-ENCODING", "transfer-encoding"] {
        #expect(throws: HTTPTransportError.self) { _ = try CurlRequestBytes(headers: [HTTPHeader(name: name, value: "1")], body: []) }
    }
    #expect(throws: HTTPTransportError.self) { _ = try CurlRequestBytes(headers: [HTTPHeader(name: "", value: "1")], body: []) }
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientReusedHandleTakesEachRequestsOwnURLAndDeadlines() async throws {
    let receiver = try CurlTestReceiver()
    let other = try CurlTestReceiver()
    // One thread, one connection per destination: the requests below, sent one after another,
    // run on one reused easy handle, which skips setting the URL and deadlines when unchanged.
    let client = try CurlHTTPClient(limits: ConnectionLimits(maxConnections: 2, maxConnectionsPerHost: 1), threads: 1)
    #expect(await client.send(curlTestPost(receiver.url("/ok"))).status == 200)
    #expect(await client.send(curlTestPost(receiver.url("/ok"))).status == 200)
    #expect(await client.send(curlTestPost(receiver.url("/gone"))).status == 410)
    let slow = await client.send(curlTestPost(receiver.url("/slow"), timeout: .milliseconds(300)))
    #expect(slow.error?.errorClass == .timeout)
    #expect(slow.durationMs < 2000)
    #expect(await client.send(curlTestPost(other.url("/error"))).status == 500)
    let back = await client.send(curlTestPost(receiver.url("/ok")))
    #expect(back.outcome == .response(
        status: 200, retryAfter: nil, bodySnippet: Array("hello from the receiver".utf8), truncated: false))
}

@Test func httpTransportErrorClassesFollowCurlCodes() {
    let expected: [(CURLcode, HTTPTransportError.ErrorClass)] = [
        (CURLE_OPERATION_TIMEDOUT, .timeout),
        (CURLE_COULDNT_CONNECT, .connectionRefused),
        (CURLE_COULDNT_RESOLVE_HOST, .dns),
        (CURLE_SSL_CONNECT_ERROR, .tls),
        (CURLE_PEER_FAILED_VERIFICATION, .tls),
        (CURLE_SSL_CACERT_BADFILE, .tls),
        (CURLE_RECV_ERROR, .reset),
        (CURLE_SEND_ERROR, .reset),
        (CURLE_GOT_NOTHING, .reset),
        (CURLE_PARTIAL_FILE, .reset),
        (CURLE_WEIRD_SERVER_REPLY, .protocolViolation),
        (CURLE_UNSUPPORTED_PROTOCOL, .invalidRequest),
        (CURLE_URL_MALFORMAT, .invalidRequest),
        (CURLE_OUT_OF_MEMORY, .other),
    ]
    for (code, errorClass) in expected {
        #expect(HTTPTransportError.ErrorClass(curlCode: code) == errorClass, "CURLcode \(code.rawValue)")
    }
    let error = HTTPTransportError(curlCode: CURLE_COULDNT_RESOLVE_HOST, detail: "")
    #expect(error.description == "dns: Couldn't resolve host name")
    #expect(HTTPTransportError.ErrorClass.allCases.map(\.rawValue) == [
        "timeout", "connection_refused", "dns", "tls", "reset", "too_large", "protocol", "invalid_request", "blocked_address",
        "cancelled", "other",
    ])
}

// MARK: - Connections and concurrency

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientReusesOneKeepAliveConnection() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    for _ in 0..<20 {
        #expect(await client.send(curlTestPost(receiver.url("/ok"))).status == 200)
    }
    // The stats request rides the same connection too.
    #expect(try await receiver.stats(using: client)["connections"] == 1)
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientCompletesManyConcurrentSendsWithinItsLimit() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient(limits: ConnectionLimits(maxConnections: 8, maxConnectionsPerHost: 8))
    let url = receiver.url("/ok")
    let outcomes = await withTaskGroup(of: HTTPResponse.Outcome.self) { group in
        for _ in 0..<200 {
            group.addTask { await client.send(curlTestPost(url)).outcome }
        }
        var outcomes: [HTTPResponse.Outcome] = []
        for await outcome in group { outcomes.append(outcome) }
        return outcomes
    }
    #expect(outcomes.count == 200)
    let unexpected = outcomes.filter {
        $0 != .response(status: 200, retryAfter: nil, bodySnippet: Array("hello from the receiver".utf8), truncated: false)
    }
    #expect(unexpected.isEmpty, "\(unexpected.prefix(3))")
    let connections = try #require(try await receiver.stats(using: client)["connections"])
    #expect(connections >= 1 && connections <= 8)
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientHoldsThePerHostCapAcrossItsThreads() async throws {
    let receiver = try CurlTestReceiver()
    // Three threads, two connections per destination: one thread serves the destination, so all
    // of its connections sit in one multi handle and the cap is exact.
    let client = try CurlHTTPClient(limits: ConnectionLimits(maxConnections: 30, maxConnectionsPerHost: 2), threads: 3)
    #expect(client.threadCount == 3)
    let url = receiver.url("/pause")
    let started = ContinuousClock.now
    let statuses = await withTaskGroup(of: Int?.self) { group in
        for _ in 0..<6 {
            group.addTask { await client.send(curlTestPost(url, timeout: .milliseconds(800))).status }
        }
        var statuses: [Int?] = []
        for await status in group { statuses.append(status) }
        return statuses
    }
    // Six requests of 0.3 s over two connections take three rounds, about 0.9 s: past each
    // request's 0.8 s deadline, which only runs once the request has a connection.
    #expect(statuses == Array(repeating: 200, count: 6))
    #expect(started.duration(to: .now) >= .milliseconds(850))
    let stats = try await receiver.stats(using: client)
    #expect(stats["max_open"] == 2)
    #expect(stats["connections"] == 2)
    // Shutdown stops every thread.
    await client.shutdown(grace: .seconds(2))
    #expect(await client.send(curlTestPost(receiver.url("/ok"))).error?.errorClass == .cancelled)
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpSinksShareOneTransportAndItsPerHostCap() async throws {
    let receiver = try CurlTestReceiver()
    let transport = LazyHTTPClient(limits: ConnectionLimits(maxConnections: 64, maxConnectionsPerHost: 4), threads: 2)
    let url = try WebhookURL.parse(receiver.url("/brief"), allowInsecureHTTP: true).get()
    // Forty sinks of eight in flight each, all to one receiver: 320 requests at once against a
    // cap of four connections.
    let sinks = (0..<40).map { _ in
        HTTPSink(
            url: url, timeout: .milliseconds(700), connectTimeout: .milliseconds(500), maxInFlight: 8,
            maxResponseBytes: 1024, responseSnippetBytes: 256, caFile: nil, configuredHeaders: [],
            displayURL: url.description, redaction: TextRedaction(), client: transport)
    }
    let request = DeliveryRequest(
        pipeline: "p", sink: "s", deliveryID: "d", eventID: "e", eventType: "points.earned", attempt: 1,
        headers: [HTTPHeader(name: "Content-Type", value: "application/json")], body: Array("{}".utf8))
    let results = await withTaskGroup(of: AttemptResult.self) { group in
        for sink in sinks {
            for _ in 0..<8 {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        sink.send(request) { continuation.resume(returning: $0) }
                    }
                }
            }
        }
        var results: [AttemptResult] = []
        for await result in group { results.append(result) }
        return results
    }
    // 320 × 20 ms over four connections is about 1.6 s, more than twice each attempt's deadline:
    // time spent waiting for a connection never counts, and nothing fails.
    let failed = results.filter { if case .httpStatus(200, _, _) = $0 { false } else { true } }
    #expect(results.count == 320)
    #expect(failed.isEmpty, "\(failed.prefix(3))")
    let client = try transport.get()
    let stats = try await receiver.stats(using: client)
    #expect(stats["max_open"] == 4)
    // One transport for all forty sinks: its threads do not grow with them.
    #expect(client.threadCount == 2)
    #expect(sinks.allSatisfy { $0.client.started === client })
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientLetsDestinationsTakeTurns() async throws {
    let receiver = try CurlTestReceiver()
    let second = try CurlTestReceiver()
    // One connection per destination and in all: another destination's request goes next, not
    // after the backlog of the first.
    let client = try CurlHTTPClient(limits: ConnectionLimits(maxConnections: 1, maxConnectionsPerHost: 1))
    let log = CurlTestResponseLog()
    for _ in 0..<10 {
        client.send(curlTestPost(receiver.url("/brief"))) { log.append($0) }
    }
    client.send(curlTestPost(second.url("/ok"))) { log.append($0) }
    await client.shutdown(grace: .seconds(60))
    // Completion order, recorded on the client's thread: the other destination's request ran
    // second (or first), not after the backlog.
    let bodies = log.all.map { response -> String in
        guard case .response(200, _, let body, _) = response.outcome else { return "failed" }
        return String(decoding: body, as: UTF8.self)
    }
    #expect(bodies.count == 11)
    #expect(bodies.filter { $0 == "after a moment" }.count == 10)
    let position = try #require(bodies.firstIndex(of: "hello from the receiver"))
    #expect(position <= 1, "\(bodies)")
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientCompletionHandlerCanChainSends() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient(limits: ConnectionLimits(maxConnections: 4, maxConnectionsPerHost: 4))
    let url = receiver.url("/ok")
    let statuses = await withCheckedContinuation { (continuation: CheckedContinuation<[Int], Never>) in
        @Sendable func chain(_ remaining: Int, _ collected: [Int]) {
            guard remaining > 0 else { return continuation.resume(returning: collected) }
            client.send(curlTestPost(url)) { response in chain(remaining - 1, collected + [response.status ?? -1]) }
        }
        chain(10, [])
    }
    #expect(statuses == Array(repeating: 200, count: 10))
}

// MARK: - Shutdown

/// Collects responses from completion handlers.
private final class CurlTestResponseLog: Sendable {
    private let responses = Mutex<[HTTPResponse]>([])
    func append(_ response: HTTPResponse) { responses.withLock { $0.append(response) } }
    var all: [HTTPResponse] { responses.withLock { $0 } }
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientShutdownCancelsWhatOutlivesTheGrace() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    #expect(await client.send(curlTestPost(receiver.url("/ok"))).status == 200)
    let log = CurlTestResponseLog()
    // Accepted before shutdown begins; the receiver holds it for 5 s, past the grace.
    client.send(curlTestPost(receiver.url("/slow"), timeout: .seconds(2))) { log.append($0) }
    await client.shutdown(grace: .milliseconds(200))
    #expect(log.all.map { $0.error?.errorClass } == [.cancelled])
    // Cancelled at the grace, not left to its 2 s deadline (measured on the client's thread).
    #expect(log.all.allSatisfy { $0.durationMs < 1500 })
    #expect(await client.send(curlTestPost(receiver.url("/ok"))).error?.errorClass == .cancelled)
    // A second shutdown returns at once.
    await client.shutdown(grace: .seconds(5))
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientShutdownLetsInFlightRequestsFinish() async throws {
    let receiver = try CurlTestReceiver()
    let client = try CurlHTTPClient()
    let log = CurlTestResponseLog()
    for _ in 0..<5 {
        client.send(curlTestPost(receiver.url("/pause"))) { log.append($0) }
    }
    let started = ContinuousClock.now
    await client.shutdown(grace: .seconds(30))
    // Shutdown waited for the receiver's 0.3 s pause rather than cancelling.
    #expect(started.duration(to: .now) >= .milliseconds(250))
    #expect(log.all.map(\.status) == Array(repeating: 200, count: 5))
}

@Test(.enabled(if: curlTestPythonAvailable))
func httpClientReleasedMidRequestCancelsIt() async throws {
    let receiver = try CurlTestReceiver()
    let url = receiver.url("/slow")
    let response = await withCheckedContinuation { (continuation: CheckedContinuation<HTTPResponse, Never>) in
        do {
            let client = try CurlHTTPClient()
            client.send(curlTestPost(url, timeout: .seconds(2))) { continuation.resume(returning: $0) }
        } catch {
            Issue.record("client: \(error)")
        }
        // The only reference to the client is gone here.
    }
    // Cancelled, not a timeout at the request's 2 s deadline, nor the receiver's answer at 5 s.
    #expect(response.error?.errorClass == .cancelled)
}

// MARK: - What an attempt keeps of a response

@Suite struct ResponseSnippetTests {
    @Test("an attempt keeps a short snippet of the body (2 KiB by default), cut at a character boundary")
    func snippetIsShort() throws {
        let page = Array(repeating: UInt8(ascii: "x"), count: 2047) + Array("é and 60 KiB more".utf8)
            + Array(repeating: UInt8(ascii: "y"), count: 60_000)
        let response = HTTPResponse(
            outcome: .response(status: 500, retryAfter: nil, bodySnippet: page, truncated: false), durationMs: 1)
        let result = HTTPSink.result(of: response, snippetBytes: HTTPSink.defaultResponseSnippetBytes, redaction: TextRedaction())
        guard case .httpStatus(500, _, let snippet) = result else {
            Issue.record("\(result)")
            return
        }
        // "é" starts at byte 2047 and needs two bytes: the cut falls before it, not inside it.
        #expect(snippet == String(repeating: "x", count: 2047))
        #expect(HTTPSink.snippet(of: Array("short".utf8), bytes: 2048, redaction: TextRedaction()) == "short")
        #expect(HTTPSink.snippet(of: Array("abc".utf8), bytes: 0, redaction: TextRedaction()) == "")
    }

    @Test("a value the URL took from a variable is hidden in the snippet, even where the cut would split it")
    func snippetIsRedacted() {
        let redaction = TextRedaction([TextRedaction.Replacement(hidden: "tok_secret_123", shownAs: "${URL_TOKEN}")])
        let body = Array("Cannot POST /h?token=tok_secret_123".utf8)
        #expect(HTTPSink.snippet(of: body, bytes: 2048, redaction: redaction) == "Cannot POST /h?token=${URL_TOKEN}")
        #expect(HTTPSink.snippet(of: body, bytes: 25, redaction: redaction) == "Cannot POST /h?token=${UR")
    }

    @Test("response_snippet_bytes sets the snippet size; it must stay within 0…65536")
    func snippetSizeIsConfigurable() throws {
        let loader = PipelineLoader(environment: ["S": "whsec_x"], registry: .builtIn)
        func sink(_ options: String) -> (HTTPSink?, [Diagnostic]) {
            let text = "source: { type: stdin }\nsign: { secrets: [\"${S}\"] }\nsinks:\n  h: { type: http, url: \"http://127.0.0.1:1/\"\(options) }\n"
            let (result, diagnostics) = loader.load(file: "p.yaml", text: text)
            return (result?.0.sinks.first?.sink as? HTTPSink, diagnostics)
        }
        #expect(sink("").0?.responseSnippetBytes == 2048)
        #expect(sink(", response_snippet_bytes: 256").0?.responseSnippetBytes == 256)
        let (tooBig, diagnostics) = sink(", response_snippet_bytes: 1000000")
        #expect(tooBig == nil)
        #expect(diagnostics.first?.message == "response_snippet_bytes must be between 0 and 65536, not 1000000")
    }
}

@Test func descriptorLimitIsRaisedToTheHardLimitAndSizesTheDefaultCap() throws {
    var limit = rlimit()
    #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
    let soft = DescriptorLimit.raiseToHard()
    let hard = limit.rlim_max >= rlim_t(DescriptorLimit.ceiling) ? DescriptorLimit.ceiling : Int(limit.rlim_max)
    #expect(soft == hard)
    #expect(ConnectionLimits.defaults().maxConnections == max(16, soft - ConnectionLimits.reservedDescriptors))
    #expect(ConnectionLimits.defaults(otherDescriptors: 100).maxConnections == max(16, soft - ConnectionLimits.reservedDescriptors - 100))
    #expect(ConnectionLimits.defaults().maxConnectionsPerHost == 32)
}
