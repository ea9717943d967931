import Foundation
import Synchronization
import Testing

@testable import LoyaliHooks

// The SSRF guard (issue 14, item 1): CIDR matching, the default refused ranges, and the transport
// refusing internal addresses after DNS, at connect time, on every attempt. Network traffic stays
// on loopback: names are pointed at 127.0.0.1 with CURLOPT_RESOLVE, and a connect hook refuses
// any other address even if the guard let it through.

private func address(_ text: String) throws -> IPAddress {
    try #require(IPAddress(text), "\(text)")
}

private func network(_ text: String) throws -> IPNetwork {
    try IPNetwork.parse(text).get().network
}

@Suite("SSRF guard: addresses and CIDR blocks")
struct AddressMatchingTests {
    @Test("addresses parse strictly and print as inet_ntop does")
    func addresses() throws {
        #expect(try address("10.0.0.1").description == "10.0.0.1")
        #expect(try address("10.0.0.1").family == .v4)
        #expect(try address("FD00::1").description == "fd00::1")
        #expect(try address("::ffff:10.0.0.1").description == "::ffff:10.0.0.1")
        #expect(try address("::ffff:10.0.0.1") != address("10.0.0.1"))
        #expect(try address("::ffff:10.0.0.1").embeddedIPv4 == address("10.0.0.1"))
        // Short, octal-looking and named forms are not addresses: a resolver could read them as
        // something else, so the guard never guesses.
        for text in ["127.1", "0x7f.0.0.1", "2130706433", "localhost", "10.0.0.256", "[::1]", "fe80::1%eth0", "", "1.2.3.4.5"] {
            #expect(IPAddress(text) == nil, "\(text)")
        }
        #expect(IPAddress(bytes: [10, 0, 0, 1]) == (try address("10.0.0.1")))
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }

    @Test("the IPv4 address inside IPv6 forms: mapped, compatible, NAT64 and 6to4")
    func embedded() throws {
        let cases: [(String, String?)] = [
            ("::ffff:169.254.169.254", "169.254.169.254"),
            ("::ffff:0:0", "0.0.0.0"),
            ("::10.0.0.1", "10.0.0.1"),
            ("::0.0.0.2", "0.0.0.2"),
            ("64:ff9b::192.168.1.1", "192.168.1.1"),
            ("2002:a00:1::", "10.0.0.1"),
            ("2002:c0a8:101:1::1", "192.168.1.1"),
            ("::", nil), ("::1", nil), ("fd00::1", nil), ("2001:db8::1", nil), ("10.0.0.1", nil),
            ("::1:ffff:10.0.0.1", nil), ("64:ff9b:1::10.0.0.1", nil),
        ]
        for (text, expected) in cases {
            #expect(try address(text).embeddedIPv4?.description == expected, "\(text)")
        }
    }

    @Test("CIDR blocks parse, and bad ones say why")
    func parsing() throws {
        #expect(try network("10.0.0.0/8").description == "10.0.0.0/8")
        #expect(try network("10.0.0.7").description == "10.0.0.7/32")
        #expect(try network("fd00::/8").description == "fd00::/8")
        #expect(try network("::1").description == "::1/128")
        #expect(try network("0.0.0.0/0").description == "0.0.0.0/0")
        #expect(try network("::/0").description == "::/0")
        let loose = try IPNetwork.parse("10.1.2.3/8").get()
        #expect(loose.network.description == "10.0.0.0/8" && loose.hadHostBits)
        #expect(try IPNetwork.parse("10.0.0.0/8").get().hadHostBits == false)
        let bad: [(String, String)] = [
            ("10.0.0.0/33", "an IPv4 prefix is at most 32"),
            ("fd00::/129", "an IPv6 prefix is at most 128"),
            ("10.0.0/8", "is not an IP network"),
            ("banana", "is not an IP network"),
            ("10.0.0.0/", "no valid prefix length"),
            ("10.0.0.0/+8", "no valid prefix length"),
            ("10.0.0.0/-1", "no valid prefix length"),
            ("10.0.0.0/8/8", "no valid prefix length"),
            ("10.0.0.0/0008", "no valid prefix length"),
            ("/8", "is not an IP network"),
            ("", "is not an IP network"),
            ("[fd00::]/8", "is not an IP network"),
        ]
        for (text, reason) in bad {
            guard case .failure(let problem) = IPNetwork.parse(text) else {
                Issue.record("'\(text)' parsed")
                continue
            }
            #expect(problem.description.contains(reason), "\(text): \(problem)")
        }
    }

    @Test("a block holds exactly the addresses up to its edges, at every prefix length")
    func edges() throws {
        let v4: [(String, [String], [String])] = [
            ("10.0.0.0/8", ["10.0.0.0", "10.255.255.255", "10.128.0.1"], ["9.255.255.255", "11.0.0.0"]),
            ("172.16.0.0/12", ["172.16.0.0", "172.31.255.255"], ["172.15.255.255", "172.32.0.0"]),
            ("100.64.0.0/10", ["100.64.0.0", "100.127.255.255"], ["100.63.255.255", "100.128.0.0"]),
            ("192.168.1.128/25", ["192.168.1.128", "192.168.1.255"], ["192.168.1.127", "192.168.2.0"]),
            ("192.168.1.1/32", ["192.168.1.1"], ["192.168.1.0", "192.168.1.2"]),
            ("128.0.0.0/1", ["128.0.0.0", "255.255.255.255"], ["127.255.255.255", "0.0.0.0"]),
            ("0.0.0.0/0", ["0.0.0.0", "255.255.255.255", "8.8.8.8"], []),
        ]
        let v6: [(String, [String], [String])] = [
            ("fc00::/7", ["fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], ["fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::"]),
            ("fe80::/10", ["fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], ["fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::"]),
            ("2001:db8::/64", ["2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"], ["2001:db8:0:1::", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"]),
            ("2001:db8::/65", ["2001:db8::", "2001:db8::7fff:ffff:ffff:ffff"], ["2001:db8::8000:0:0:0"]),
            ("2001:db8::/63", ["2001:db8::", "2001:db8:0:1:ffff:ffff:ffff:ffff"], ["2001:db8:0:2::"]),
            ("::/127", ["::", "::1"], ["::2"]),
            ("::1/128", ["::1"], ["::", "::2"]),
            ("8000::/1", ["8000::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], ["7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]),
            ("::/0", ["::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2606:4700::1111"], []),
        ]
        for (cidr, inside, outside) in v4 + v6 {
            let block = try network(cidr)
            for text in inside { #expect(block.contains(try address(text)), "\(cidr) should hold \(text)") }
            for text in outside { #expect(!block.contains(try address(text)), "\(cidr) should not hold \(text)") }
        }
        // Families never mix: the guard relates IPv6 forms to IPv4 itself.
        #expect(!(try network("0.0.0.0/0")).contains(try address("::ffff:10.0.0.1")))
        #expect(!(try network("::/0")).contains(try address("10.0.0.1")))
    }

    @Test("at every prefix length of both families, a block holds its first and last address and not their neighbours")
    func everyPrefixLength() throws {
        // Edges computed bit by bit over 16-byte arrays, independently of IPNetwork's masks.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random() -> UInt8 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        func address(_ bytes: [UInt8]) throws -> IPAddress { try #require(IPAddress(bytes: bytes)) }
        /// `bytes` plus `delta` (±1) as one big-endian number; `nil` past either end.
        func step(_ bytes: [UInt8], _ delta: Int) -> [UInt8]? {
            var result = bytes
            for index in result.indices.reversed() {
                if delta > 0 {
                    if result[index] == 255 { result[index] = 0 } else { result[index] += 1; return result }
                } else {
                    if result[index] == 0 { result[index] = 255 } else { result[index] -= 1; return result }
                }
            }
            return nil
        }
        for byteCount in [4, 16] {
            for length in 0...(byteCount * 8) {
                for _ in 0..<4 {
                    let base = (0..<byteCount).map { _ in random() }
                    var first = base
                    var last = base
                    for bit in length..<(byteCount * 8) {
                        first[bit / 8] &= ~(0x80 >> UInt8(bit % 8))
                        last[bit / 8] |= 0x80 >> UInt8(bit % 8)
                    }
                    let block = IPNetwork(try address(base), prefixLength: length)
                    #expect(block.address == (try address(first)), "/\(length)")
                    let (firstAddress, lastAddress, baseAddress) = (try address(first), try address(last), try address(base))
                    #expect(block.contains(firstAddress) && block.contains(lastAddress) && block.contains(baseAddress), "\(block)")
                    if let before = step(first, -1) {
                        let outside = try address(before)
                        #expect(!block.contains(outside), "\(block)")
                    }
                    if let after = step(last, 1) {
                        let outside = try address(after)
                        #expect(!block.contains(outside), "\(block)")
                    }
                    #expect(try IPNetwork.parse(block.description).get().network == block)
                }
            }
        }
    }

    @Test("refused by default: each range up to its edges, in IPv4 and in every IPv6 form that carries IPv4")
    func refusedRanges() throws {
        let refused = [
            "0.0.0.0", "0.255.255.255", "10.0.0.0", "10.255.255.255", "100.64.0.0", "100.127.255.255",
            "127.0.0.0", "127.0.0.1", "127.255.255.255", "169.254.0.0", "169.254.169.254", "169.254.255.255",
            "172.16.0.0", "172.31.255.255", "192.168.0.0", "192.168.255.255", "224.0.0.0", "239.255.255.255",
            "240.0.0.0", "255.255.255.255",
            "::", "::1", "fc00::", "fd00::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::", "fe80::1",
            "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::1", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0", "::ffff:100.64.0.1",
            "::ffff:172.16.0.1", "::ffff:192.168.0.1", "::ffff:224.0.0.1", "::ffff:255.255.255.255",
            "::10.0.0.1", "::169.254.169.254", "::192.168.1.1", "::127.0.0.1", "::0.0.0.2",
            "64:ff9b::10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::", "2002:7f00:1::1",
        ]
        let allowed = [
            "1.0.0.0", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255",
            "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255",
            "192.169.0.0", "223.255.255.255", "1.1.1.1",
            "2001:4860:4860::8888", "2606:4700::1111", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::",
            "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:8.8.8.8", "::8.8.8.8", "64:ff9b::1.1.1.1",
            "2002:808:808::1",
        ]
        let addressGuard = AddressGuard()
        for text in refused {
            #expect(AddressGuard.refusedRange(of: try address(text)) != nil, "\(text) should be refused")
            #expect(addressGuard.refusal(of: try address(text), host: "hooks.example.com") != nil, "\(text)")
        }
        for text in allowed {
            #expect(AddressGuard.refusedRange(of: try address(text)) == nil, "\(text) should be allowed")
        }
        #expect(AddressGuard.refusedRange(of: try address("169.254.169.254"))?.network.description == "169.254.0.0/16")
        #expect(AddressGuard.refusedRange(of: try address("::ffff:10.9.9.9"))?.network.description == "10.0.0.0/8")
    }

    @Test("loopback is allowed only when the URL names it literally, or as localhost")
    func loopback() throws {
        let addressGuard = AddressGuard()
        for host in ["127.0.0.1", "127.3.4.5", "::1", "localhost", "::ffff:127.0.0.1"] {
            #expect(AddressGuard.isLiteralLoopback(host: host), "\(host)")
            #expect(addressGuard.refusal(of: try address("127.0.0.1"), host: host) == nil, "\(host)")
            #expect(addressGuard.refusal(of: try address("::1"), host: host) == nil, "\(host)")
        }
        for host in ["hooks.example.com", "api.localhost", "localhost.example.com", "127.0.0.1.nip.io", "10.0.0.1", "vm"] {
            #expect(!AddressGuard.isLiteralLoopback(host: host), "\(host)")
            #expect(addressGuard.refusal(of: try address("127.0.0.1"), host: host)?.isLoopback == true, "\(host)")
        }
        // A literal loopback host opens loopback only, never the other ranges.
        #expect(addressGuard.refusal(of: try address("10.0.0.1"), host: "localhost") != nil)
        #expect(addressGuard.refusal(of: try address("0.0.0.0"), host: "127.0.0.1") != nil)
    }

    @Test("allow_networks and --allow-network open blocks up, in IPv4 and the IPv6 forms carrying it")
    func allowing() throws {
        let sink = AddressGuard(allowedNetworks: [try network("10.1.0.0/16")])
        #expect(sink.refusal(of: try address("10.1.2.3"), host: "h") == nil)
        #expect(sink.refusal(of: try address("::ffff:10.1.2.3"), host: "h") == nil)
        #expect(sink.refusal(of: try address("10.1.255.255"), host: "h") == nil)
        #expect(sink.refusal(of: try address("10.2.0.0"), host: "h") != nil)
        #expect(sink.refusal(of: try address("10.0.255.255"), host: "h") != nil)
        let process = AddressGuard(processAllowedNetworks: [try network("fd12:3456::/32"), try network("127.0.0.1")])
        #expect(process.refusal(of: try address("fd12:3456::9"), host: "h") == nil)
        #expect(process.refusal(of: try address("fd12:3457::9"), host: "h") != nil)
        #expect(process.refusal(of: try address("127.0.0.1"), host: "h") == nil)
        #expect(process.refusal(of: try address("127.0.0.2"), host: "h") != nil)
        let message = AddressGuard.message(
            address: try address("169.254.169.254"), range: try #require(AddressGuard.refusedRange(of: try address("169.254.169.254"))),
            host: "metadata.example")
        #expect(message.hasPrefix("refused to connect to metadata.example (169.254.169.254): 169.254.0.0/16 is link-local"), "\(message)")
        #expect(message.contains("allow_networks") && message.contains("--allow-network"))
    }
}

// MARK: - The transport

/// Every address the transport was about to open a socket to, after the guard's decision. The
/// hook also refuses anything but loopback, so no test can send a packet elsewhere.
private final class ConnectLog: Sendable {
    let addresses = Mutex<[String]>([])

    var hook: @Sendable (IPAddress) -> Bool {
        { [self] address in
            addresses.withLock { $0.append(address.description) }
            return address.description == "127.0.0.1" || address.description == "::1"
        }
    }

    var seen: [String] { addresses.withLock { $0 } }
}

private func guardedClient(
    _ log: ConnectLog, resolve: [String] = [], allowedNetworks: [IPNetwork] = []
) throws -> CurlHTTPClient {
    try CurlHTTPClient(
        limits: ConnectionLimits(maxConnections: 8, maxConnectionsPerHost: 4), threads: 1, allowedNetworks: allowedNetworks,
        resolve: resolve, connectHook: log.hook)
}

@Suite("SSRF guard: the transport")
struct AddressGuardTransportTests {
    @Test(
        "a name that resolves to loopback is refused with blocked_address, and nothing reaches the receiver",
        .enabled(if: curlTestPythonAvailable))
    func nameResolvingToLoopback() async throws {
        let receiver = try CurlTestReceiver()
        let log = ConnectLog()
        let client = try guardedClient(log, resolve: ["hooks.example.test:\(receiver.port):127.0.0.1"])
        for _ in 0..<3 {
            let response = await client.send(curlTestPost("http://hooks.example.test:\(receiver.port)/ok"))
            let error = try #require(response.error, "\(response.outcome)")
            #expect(error.errorClass == .blockedAddress)
            #expect(error.message.contains("hooks.example.test (127.0.0.1)"), "\(error.message)")
            #expect(error.description.hasPrefix("blocked_address: refused to connect to"))
        }
        // The guard refused before any socket: the hook, asked about each admitted address, saw none.
        #expect(log.seen.isEmpty)
        // Only the stats request itself (to the literal 127.0.0.1) has reached the receiver.
        let stats = try await receiver.stats(using: client)
        #expect(stats["connections"] == 1)
        #expect(log.seen == ["127.0.0.1"])
    }

    @Test(
        "literal internal addresses are refused before any connect; no packet leaves loopback",
        .enabled(if: curlTestPythonAvailable))
    func literalInternalAddresses() async throws {
        let receiver = try CurlTestReceiver()
        let log = ConnectLog()
        let client = try guardedClient(log)
        let hosts = [
            "10.0.0.1", "169.254.169.254", "[::ffff:10.0.0.1]", "[fd00::1]", "[fe80::1]", "172.16.5.4", "192.168.1.1",
            "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "[::]", "[ff02::1]", "[::ffff:169.254.169.254]",
            "[::10.0.0.1]", "[64:ff9b::10.0.0.1]",
        ]
        for host in hosts {
            // The receiver's port: were 0.0.0.0 let through, it would reach the receiver.
            let response = await client.send(curlTestPost("http://\(host):\(receiver.port)/ok"))
            #expect(response.error?.errorClass == .blockedAddress, "\(host): \(response.outcome)")
            let shown = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            #expect(response.error?.message.contains("refused to connect to \(try address(shown))") == true, "\(host): \(response.outcome)")
        }
        #expect(log.seen.isEmpty, "\(log.seen)")
        #expect(try await receiver.stats(using: client)["connections"] == 1)
    }

    @Test(
        "allow_networks on the request, or the client's --allow-network, lets a loopback name through",
        .enabled(if: curlTestPythonAvailable))
    func allowedNetworks() async throws {
        let receiver = try CurlTestReceiver()
        let resolve = ["hooks.example.test:\(receiver.port):127.0.0.1"]
        let url = "http://hooks.example.test:\(receiver.port)/ok"

        let log = ConnectLog()
        let client = try guardedClient(log, resolve: resolve)
        var request = curlTestPost(url)
        request.allowedNetworks = [try network("127.0.0.0/8")]
        #expect(await client.send(request).status == 200)
        #expect(log.seen == ["127.0.0.1"])
        // A block that does not hold the address allows nothing.
        request.allowedNetworks = [try network("127.0.0.2/32"), try network("10.0.0.0/8")]
        // (New client: the first one's kept-alive connection would be checked instead.)
        let narrow = try guardedClient(ConnectLog(), resolve: resolve)
        #expect(await narrow.send(request).error?.errorClass == .blockedAddress)

        let processLog = ConnectLog()
        let processWide = try guardedClient(processLog, resolve: resolve, allowedNetworks: [try network("127.0.0.1/32")])
        #expect(await processWide.send(curlTestPost(url)).status == 200)
        #expect(processLog.seen == ["127.0.0.1"])
        #expect(try await receiver.stats(using: client)["connections"] == 3)
    }

    @Test(
        "a name with an internal and an allowed address connects only to the allowed one",
        .enabled(if: curlTestPythonAvailable))
    func mixedAddresses() async throws {
        let receiver = try CurlTestReceiver()
        let log = ConnectLog()
        let client = try guardedClient(
            log, resolve: ["hooks.example.test:\(receiver.port):10.0.0.1,169.254.169.254,127.0.0.1"],
            allowedNetworks: [try network("127.0.0.0/8")])
        #expect(await client.send(curlTestPost("http://hooks.example.test:\(receiver.port)/ok")).status == 200)
        #expect(log.seen == ["127.0.0.1"])
    }

    @Test(
        "a kept-alive connection opened for a request that allowed its address is not reused by one that does not",
        .enabled(if: curlTestPythonAvailable))
    func reuseIsChecked() async throws {
        let receiver = try CurlTestReceiver()
        let log = ConnectLog()
        let client = try guardedClient(log, resolve: ["hooks.example.test:\(receiver.port):127.0.0.1"])
        // /target counts the requests that arrive.
        let url = "http://hooks.example.test:\(receiver.port)/target"
        var permitted = curlTestPost(url)
        permitted.allowedNetworks = [try network("127.0.0.0/8")]
        #expect(await client.send(permitted).status == 200)
        let refused = await client.send(curlTestPost(url))
        #expect(refused.error?.errorClass == .blockedAddress, "\(refused.outcome)")
        #expect(refused.error?.message.contains("refused to send over a connection to hooks.example.test (127.0.0.1)") == true)
        // libcurl closes the connection it was refused; the permitted request opens its own again.
        #expect(await client.send(permitted).status == 200)
        #expect(log.seen == ["127.0.0.1", "127.0.0.1"])
        let stats = try await receiver.stats(using: client)
        #expect(stats["target_hits"] == 2)
    }
}

@Suite("SSRF guard: sinks and config")
struct AddressGuardSinkTests {
    @Test("blocked_address fails a delivery at once: no retry, unlike a network error")
    func failsAtOnce() {
        let blocked = HTTPResponse(
            outcome: .failure(HTTPTransportError(.blockedAddress, "refused to connect to 10.0.0.1: 10.0.0.0/8 is a private network")),
            durationMs: 0)
        let result = HTTPSink.result(of: blocked, snippetBytes: 100, redaction: TextRedaction())
        guard case .failure(let failure) = result else {
            Issue.record("\(result)")
            return
        }
        #expect(failure.errorClass == "blocked_address")
        #expect(!failure.retryable)
        let decision = RetryDecision(policy: .standard)
        guard case .failed(let reason) = decision.outcome(for: result, attemptInRound: 1, nowMs: 0) else {
            Issue.record("retried")
            return
        }
        #expect(reason.contains("10.0.0.1"))
        let refused = HTTPResponse(outcome: .failure(HTTPTransportError(.connectionRefused, "refused")), durationMs: 0)
        let network = HTTPSink.result(of: refused, snippetBytes: 100, redaction: TextRedaction())
        #expect(decision.outcome(for: network, attemptInRound: 1, nowMs: 0) != .failed(reason: "refused"))
    }
}

@Suite("SSRF guard: validate and run through the CLI", .serialized)
struct AddressGuardCLITests {
    static let secret = "whsec_address_guard_test"

    /// A pipeline of one http sink, `sink`, and three events, in a fresh directory.
    static func workspace(sink: String) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        let events = [
            #"{"id":"evt_g1","event_type":"points.earned","data":{"customer_id":"c1","amount":150}}"#,
            #"{"id":"evt_g2","event_type":"points.earned","data":{"customer_id":"c2","amount":20}}"#,
            #"{"id":"evt_g3","event_type":"points.earned","data":{"customer_id":"c3","amount":5}}"#,
        ]
        try (events.joined(separator: "\n") + "\n").write(to: directory.url.appendingPathComponent("events.jsonl"), atomically: true, encoding: .utf8)
        try """
            pipeline: guarded
            source: { type: file, path: events.jsonl }
            sign: { secrets: ["${GUARD_SECRET}"] }
            sinks:
              \(sink)
            """.write(to: directory.url.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
        return directory
    }

    @Test("validate warns at the URL when its literal address is refused, unless allowed; a bad block is an error at its item")
    func validateWarns() throws {
        let directory = try Self.workspace(sink: #"meta: { type: http, url: "https://169.254.169.254/latest/meta-data" }"#)
        let environment = ["GUARD_SECRET": Self.secret]
        let warned = try CLI.run(["validate", "pipeline.yaml"], in: directory.url, environment: environment)
        #expect(warned.status == 0, "\(warned.stderr)")
        #expect(warned.stderr.contains(
            "pipeline.yaml:5:28: warning: the SSRF guard refuses 169.254.169.254 (169.254.0.0/16 is link-local"), "\(warned.stderr)")
        #expect(warned.stderr.contains("blocked_address"))
        // --allow-network (or the sink's allow_networks) holding the address silences it.
        let allowed = try CLI.run(["validate", "pipeline.yaml", "--allow-network", "169.254.0.0/16"], in: directory.url, environment: environment)
        #expect(allowed.status == 0 && !allowed.stderr.contains("warning"), "\(allowed.stderr)")
        let viaEnvironment = try CLI.run(
            ["validate", "pipeline.yaml"], in: directory.url,
            environment: environment.merging(["LOYALI_HOOKS_ALLOW_NETWORKS": "10.0.0.0/8, 169.254.169.254"]) { $1 })
        #expect(viaEnvironment.status == 0 && !viaEnvironment.stderr.contains("warning"), "\(viaEnvironment.stderr)")
        let badEnvironment = try CLI.run(
            ["validate", "pipeline.yaml"], in: directory.url, environment: environment.merging(["LOYALI_HOOKS_ALLOW_NETWORKS": "10.0.0.0/8,nope"]) { $1 })
        #expect(badEnvironment.status == 2)
        #expect(badEnvironment.stderr.contains("$LOYALI_HOOKS_ALLOW_NETWORKS: 'nope' is not an IP network"), "\(badEnvironment.stderr)")
        let badOption = try CLI.run(["validate", "pipeline.yaml", "--allow-network", "169.254.0.0/40"], in: directory.url, environment: environment)
        #expect(badOption.status == 2)
        #expect(badOption.stderr.contains("--allow-network: '169.254.0.0/40' has a prefix length of 40"), "\(badOption.stderr)")

        let cases: [(String, String?)] = [
            (#"h: { type: http, url: "https://[fd00::1]/h", allow_networks: [fd00::/8] }"#, nil),
            (#"h: { type: http, url: "https://[::ffff:10.0.0.1]/h" }"#, "pipeline.yaml:5:25: warning: the SSRF guard refuses ::ffff:10.0.0.1 (10.0.0.0/8 is a private network)"),
            (#"h: { type: http, url: "https://100.64.1.1/h", allow_networks: [10.0.0.0/8] }"#, "pipeline.yaml:5:25: warning: the SSRF guard refuses 100.64.1.1"),
            (#"h: { type: http, url: "https://8.8.8.8/h" }"#, nil),
            (#"h: { type: http, url: "http://127.0.0.1:9/h" }"#, nil),
            (#"h: { type: http, url: "https://hooks.example.com/h" }"#, nil),
        ]
        for (sink, expected) in cases {
            let directory = try Self.workspace(sink: sink)
            let result = try CLI.run(["validate", "pipeline.yaml"], in: directory.url, environment: environment)
            #expect(result.status == 0, "\(sink): \(result.stderr)")
            if let expected {
                #expect(result.stderr.contains(expected), "\(sink): \(result.stderr)")
            } else {
                #expect(!result.stderr.contains("warning"), "\(sink): \(result.stderr)")
            }
        }
        let bad = try Self.workspace(sink: #"h: { type: http, url: "https://hooks.example.com/h", allow_networks: [10.0.0.0/8, "10.0.0.0/x", fd00::/200] }"#)
        let refused = try CLI.run(["validate", "pipeline.yaml"], in: bad.url, environment: environment)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("pipeline.yaml:5:85: error: allow_networks: '10.0.0.0/x' has no valid prefix length"), "\(refused.stderr)")
        #expect(refused.stderr.contains("pipeline.yaml:5:99: error: allow_networks: 'fd00::/200' has a prefix length of 200"), "\(refused.stderr)")
    }

    @Test(
        "a name resolving to loopback fails each delivery at its first attempt with blocked_address; allowing the block delivers",
        .enabled(if: curlTestPythonAvailable))
    func runRefusesThenAllows() throws {
        // curl resolves *.localhost to 127.0.0.1 and ::1 itself, without DNS or /etc/hosts.
        let sink = #"hook: { type: http, url: "http://hooks.localhost:${PORT}/hook", retry: { schedule: [0s, 10ms, 10ms] } }"#
        let directory = try Self.workspace(sink: sink)
        let receiver = try VerifyingReceiver(secret: Self.secret, directory: directory.url)
        let environment = ["GUARD_SECRET": Self.secret, "PORT": String(receiver.port)]
        let state = directory.url.appendingPathComponent("state").path
        let refused = try CLI.run(["run", "pipeline.yaml", "--drain", "--state", state], in: directory.url, environment: environment)
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(receiver.requests.isEmpty)
        let failed = try CLI.run(["deliveries", "--status", "failed", "--json", "--state", state], in: directory.url, environment: environment)
        #expect(failed.stdoutLines.count == 3, "\(failed.stdout)")
        let id = DeliveryID.make(eventID: "evt_g1", pipeline: "guarded", sink: "hook")
        let show = try CLI.run(["deliveries", "show", id, "--json", "--state", state], in: directory.url, environment: environment)
        let detail = try JSONParser.parse(show.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let log = try #require(detail.objectValue?["attempt_log"]?.arrayValue)
        // One attempt: a refused address is never retried as if the network were down.
        #expect(log.count == 1, "\(show.stdout)")
        #expect(log.first?.objectValue?["error_class"] == .string("blocked_address"), "\(show.stdout)")
        let message = log.first?.objectValue?["error"]?.stringValue ?? ""
        #expect(message.contains("refused to connect to hooks.localhost ("), "\(message)")
        #expect(message.contains("127.0.0.1") || message.contains("::1"), "\(message)")
        let human = try CLI.run(["deliveries", "show", id, "--state", state], in: directory.url, environment: environment)
        #expect(human.stdout.contains("blocked_address"), "\(human.stdout)")

        // Refusals never pause the sink (its health is unknown): with a pause after 2 failures,
        // every delivery still fails at its one attempt.
        let pausing = try Self.workspace(sink: sink.dropLast(2) + ", pause: { after: 2 } }")
        let pausingState = pausing.url.appendingPathComponent("state").path
        let notPaused = try CLI.run(["run", "pipeline.yaml", "--drain", "--state", pausingState], in: pausing.url, environment: environment)
        #expect(notPaused.status == 1, "\(notPaused.stderr)")
        let pausingFailed = try CLI.run(
            ["deliveries", "--status", "failed", "--json", "--state", pausingState], in: pausing.url, environment: environment)
        #expect(pausingFailed.stdoutLines.count == 3, "\(pausingFailed.stdout)")
        let stats = try CLI.run(["stats", "--json", "--state", pausingState], in: pausing.url, environment: environment)
        #expect(stats.stdout.contains(#""state":"healthy""#) && stats.stdout.contains(#""consecutive_failures":0"#), "\(stats.stdout)")

        // --allow-network lets the same name through.
        let opened = try CLI.run(
            ["run", "pipeline.yaml", "--drain", "--state", state + "-allowed", "--allow-network", "127.0.0.0/8"], in: directory.url,
            environment: environment)
        #expect(opened.status == 0, "\(opened.stderr)")
        #expect(receiver.requests.count == 3)
        #expect(receiver.requests.allSatisfy { $0.signed && $0.attempt == 1 })

        // `test` (the "Test" button) refuses the same way, and takes --allow-network too.
        let tested = try CLI.run(["test", "pipeline.yaml", "--event", "points.earned"], in: directory.url, environment: environment)
        #expect(tested.status == 1)
        #expect(tested.stdout.contains("blocked_address: refused to connect to hooks.localhost ("), "\(tested.stdout)")
        let testedAllowed = try CLI.run(
            ["test", "pipeline.yaml", "--event", "points.earned", "--allow-network", "127.0.0.1"], in: directory.url,
            environment: environment)
        #expect(testedAllowed.status == 0, "\(testedAllowed.stdout)")
        #expect(receiver.requests.count == 4)
        let requestCount = receiver.requests.count

        // So does the sink's allow_networks.
        let perSink = try Self.workspace(sink: sink.dropLast(2) + ", allow_networks: [127.0.0.1/32, \"::1\"] }")
        let viaSink = try CLI.run(["run", "pipeline.yaml", "--drain", "--state", state + "-sink"], in: perSink.url, environment: environment)
        #expect(viaSink.status == 0, "\(viaSink.stderr)")
        #expect(receiver.requests.count == requestCount + 3)
    }
}
