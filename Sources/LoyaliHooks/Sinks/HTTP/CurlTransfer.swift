import CCurl

/// One request while libcurl works on it: the C-side copy of its headers and body, and what the
/// write and header callbacks have collected so far.
///
/// Owns the bytes handed to libcurl (``CurlRequestBytes``), freed with it, after the transfer has
/// left its easy handle.
///
/// `@unchecked Sendable` because it is built on the sender's thread and then handed to the loop
/// thread through the client's locked queue, which orders the two; from then on only the loop
/// thread touches it, and the `completion` it calls is itself `@Sendable`.
final class CurlTransfer: @unchecked Sendable {
    /// The most response-header bytes read before the response is refused as too large. Honest
    /// receivers send well under 8 KiB; this bounds a hostile one.
    static let maxHeaderBytes = 64 * 1024

    /// The request being sent, without its headers and body: ``bytes`` holds those as libcurl
    /// reads them, and the caller's copies are freed on the caller's thread, which allocated them,
    /// rather than on the transfer thread.
    let request: HTTPRequest
    /// Where it connects; its client thread and its per-destination slot follow from this.
    let destination: HTTPDestination
    /// The loop's index for ``destination``, set when the loop takes the transfer.
    var destinationIndex = -1
    /// Called once with the result.
    let completion: @Sendable (HTTPResponse) -> Void
    /// The header lines and body as libcurl reads them.
    let bytes: CurlRequestBytes
    /// When the transfer was handed to libcurl.
    private(set) var startedAt: ContinuousClock.Instant = .now

    /// The first bytes of the response body, at most `request.maxResponseBytes`.
    private(set) var snippet: [UInt8] = []
    /// The body went past the cap and the transfer was stopped.
    private(set) var truncated = false
    /// The raw `Retry-After` value of the final response.
    private(set) var retryAfter: String?
    /// Header bytes read so far, across interim (1xx) and final responses.
    private var headerBytes = 0
    /// The headers went past ``maxHeaderBytes`` and the transfer was stopped.
    private(set) var headersTooLarge = false
    /// The transfer opened a connection of its own, to an address the guard allowed.
    private(set) var openedConnection = false
    /// Whether a kept-alive connection must pass the guard again before this request uses it:
    /// set by the loop when its destination has seen requests with other allowed blocks.
    var checksReusedConnection = true
    /// Why the guard refused the first address it refused for this transfer, and how many it
    /// refused in all.
    private(set) var blocked: (message: String, count: Int)?

    /// Prepares `request` for libcurl, or throws `invalid_request` for a header that would corrupt
    /// the request (a line break, a bad name).
    init(request: HTTPRequest, completion: @escaping @Sendable (HTTPResponse) -> Void) throws(HTTPTransportError) {
        self.completion = completion
        destination = request.destination ?? HTTPDestination(urlString: request.url)
        bytes = try CurlRequestBytes(headers: request.headers, body: request.body)
        var settings = request
        settings.headers = []
        settings.body = []
        self.request = settings
    }

    /// The guard for this transfer: the request's allowed blocks and the process's.
    private func addressGuard(processAllowedNetworks: [IPNetwork]) -> AddressGuard {
        AddressGuard(allowedNetworks: request.allowedNetworks, processAllowedNetworks: processAllowedNetworks)
    }

    /// Decides whether libcurl may open a connection to `address` (`nil`: not an IP address) for
    /// this transfer: `true` when the guard allows it, else the refusal is recorded.
    func admitConnection(to address: IPAddress?, processAllowedNetworks: [IPNetwork]) -> Bool {
        if let address {
            guard let range = addressGuard(processAllowedNetworks: processAllowedNetworks).refusal(of: address, host: destination.host) else {
                openedConnection = true
                return true
            }
            recordBlocked(AddressGuard.message(address: address, range: range, host: destination.host))
        } else {
            recordBlocked("refused to connect to \(destination.host): not an IPv4 or IPv6 address")
        }
        return false
    }

    /// Decides whether the request may be sent over the connection libcurl picked, whose peer is
    /// `peer` (text): always for a connection this transfer opened, which was checked then; for a
    /// kept-alive one, opened for an earlier request (perhaps another sink's, with other allowed
    /// blocks), the guard is asked again, unless every request to the destination so far had the
    /// same blocks (``checksReusedConnection``). One parse and a few compares when it is asked.
    func admitRequest(peer: UnsafePointer<CChar>?, processAllowedNetworks: [IPNetwork]) -> Bool {
        if openedConnection || !checksReusedConnection { return true }
        guard let peer, let address = IPAddress(cString: peer) else {
            recordBlocked("refused to send over a kept-alive connection to \(destination.host): its address is unknown")
            return false
        }
        guard let range = addressGuard(processAllowedNetworks: processAllowedNetworks).refusal(of: address, host: destination.host) else {
            return true
        }
        recordBlocked(AddressGuard.message(address: address, range: range, host: destination.host, reused: true))
        return false
    }

    private func recordBlocked(_ message: String) {
        blocked = (blocked?.message ?? message, (blocked?.count ?? 0) + 1)
    }

    /// Marks the moment libcurl takes the transfer over.
    func markStarted() {
        startedAt = .now
    }

    /// Milliseconds since ``markStarted()``.
    func elapsedMilliseconds() -> Int64 {
        let (seconds, attoseconds) = startedAt.duration(to: .now).components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// `CURLOPT_WRITEFUNCTION`: keeps body bytes up to the cap, then stops the transfer by
    /// returning less than it was given, so a huge response is never read.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        let room = request.maxResponseBytes - snippet.count
        if bytes.count <= room {
            snippet.append(contentsOf: bytes)
            return bytes.count
        }
        if room > 0 {
            snippet.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<room]))
        }
        truncated = true
        return 0
    }

    /// `CURLOPT_HEADERFUNCTION`: called once per header line. Captures `Retry-After` and stops a
    /// response whose headers exceed ``maxHeaderBytes``.
    func receiveHeader(_ line: UnsafeRawBufferPointer) -> Int {
        headerBytes += line.count
        if headerBytes > Self.maxHeaderBytes {
            headersTooLarge = true
            return 0
        }
        if line.starts(with: Self.statusLinePrefix) {
            // A new response begins (after a 1xx): only the final one's headers count.
            retryAfter = nil
        } else if line.prefix(Self.retryAfterPrefix.count).caseInsensitiveEquals(Self.retryAfterPrefix) {
            retryAfter = Self.trimmedValue(line, from: Self.retryAfterPrefix.count)
        }
        return line.count
    }

    /// The response to report for this transfer, given libcurl's result `code` and `handle`.
    func response(code: CURLcode, handle: CurlEasyHandle) -> HTTPResponse {
        let outcome: HTTPResponse.Outcome
        if code != CURLE_OK, !openedConnection, let blocked {
            // Every address was refused (or the kept-alive connection was): curl's own message
            // ("Couldn't connect to server") would hide why.
            let more = blocked.count > 1 ? " (\(Plural.count(blocked.count - 1, "other address")) of the host refused too)" : ""
            outcome = .failure(HTTPTransportError(.blockedAddress, blocked.message + more))
        } else if headersTooLarge {
            outcome = .failure(HTTPTransportError(
                .tooLarge, "response headers exceed \(Self.maxHeaderBytes) bytes; the response was not read"))
        } else if code == CURLE_OK || (code == CURLE_WRITE_ERROR && truncated) {
            outcome = .response(
                status: handle.responseCode, retryAfter: retryAfter, bodySnippet: snippet, truncated: truncated)
        } else {
            outcome = .failure(HTTPTransportError(curlCode: code, detail: handle.errorDetail))
        }
        return HTTPResponse(outcome: outcome, durationMs: elapsedMilliseconds())
    }

    private static let statusLinePrefix = Array("HTTP/".utf8)
    private static let retryAfterPrefix = Array("retry-after:".utf8)

    /// The header value after `offset`, without surrounding spaces, tabs or the CRLF.
    private static func trimmedValue(_ line: UnsafeRawBufferPointer, from offset: Int) -> String {
        var start = offset
        var end = line.count
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, [0x20, 0x09, 0x0D, 0x0A].contains(line[end - 1]) { end -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: line[start..<end]), as: UTF8.self)
    }
}
