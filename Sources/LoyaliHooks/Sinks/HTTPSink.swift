import Foundation
import Synchronization

/// `type: http`: POSTs each delivery to a webhook endpoint.
///
/// ```yaml
/// warehouse:
///   type: http
///   url: https://warehouse.example.com/hooks/loyali
///   timeout: 10s
///   headers: { Authorization: "Bearer ${WAREHOUSE_TOKEN}" }
///   retry: { schedule: [0s, 1m, 5m, 30m, 2h] }
/// ```
///
/// Requests go through the process's one libcurl transport (``LazyHTTPClient/process``), shared
/// with every other `http` sink: keep-alive, at most `max_in_flight` at once for this sink (the
/// runner's lanes hold that), within the process-wide caps per destination and in all
/// (``ConnectionLimits``), an overall deadline, a capped response read, verified TLS and no
/// redirects (a 3xx is a failed attempt).
public struct HTTPSink: ConcurrentSink {
    public let kind = "http"
    /// The endpoint.
    public let url: WebhookURL
    /// Overall deadline for one request.
    public let timeout: Duration
    /// Deadline for the TCP/TLS connect.
    public let connectTimeout: Duration
    /// Requests in flight at once for this sink.
    public let maxInFlight: Int
    /// Response bytes read at most.
    public let maxResponseBytes: Int
    /// Response bytes kept in the attempt log (and shown by `test`), from the start of the body.
    public let responseSnippetBytes: Int
    /// Extra CA bundle for TLS verification.
    public let caFile: String?
    public let configuredHeaders: [ConfiguredHeader]
    /// The URL as written in the pipeline file, each value taken from the environment shown as
    /// its `${VAR}` (defaults written in the file are shown), which is how every output shows
    /// it; only the request itself uses ``url``.
    public let displayURL: String
    /// Hides the values the URL took from the environment in whatever this sink reports: a curl
    /// error naming the host, a receiver's error page echoing the query string.
    public let redaction: TextRedaction
    /// Internal blocks this sink may connect to despite the SSRF guard (`allow_networks`).
    public var allowedNetworks: [IPNetwork] = []

    /// The transport, started on first use so that `validate` and dry runs never spin up a
    /// transfer thread: the process's, shared by every sink, except in tests.
    let client: LazyHTTPClient

    public var target: String { displayURL }
    public var requiresSignature: Bool { true }

    /// The destination's connections, shared with every sink sending there through the same
    /// transport. The runner hands the transport at most twice the connection cap at once: one
    /// request per connection and one waiting behind it, so a connection never idles while the
    /// dispatcher turns, and the rest stays claimed in memory or in the store.
    public var sharedLimit: SharedAttemptLimit? {
        let limits = client.limits
        let connections = min(limits.maxConnectionsPerHost, limits.maxConnections)
        return SharedAttemptLimit(
            key: "\(ObjectIdentifier(client).hashValue) \(HTTPDestination(url))", limit: 2 * connections)
    }

    public func send(_ request: DeliveryRequest, completion: @escaping @Sendable (AttemptResult) -> Void) {
        let client: CurlHTTPClient
        do {
            client = try self.client.get()
        } catch {
            completion(.failure(DeliveryFailure(errorClass: error.errorClass.rawValue, message: error.message, retryable: true)))
            return
        }
        var httpRequest = HTTPRequest(
            url: url.description, headers: request.headers, body: request.body, timeout: timeout,
            connectTimeout: connectTimeout, maxResponseBytes: maxResponseBytes, caFile: caFile)
        httpRequest.destination = HTTPDestination(url)
        httpRequest.allowedNetworks = allowedNetworks
        client.send(httpRequest) { [redaction, responseSnippetBytes] response in
            completion(Self.result(of: response, snippetBytes: responseSnippetBytes, redaction: redaction))
        }
    }

    /// A blocking attempt, for the `test` command; never call it from the cooperative pool.
    public func deliver(_ request: DeliveryRequest) throws(DeliveryFailure) {
        let result = Self.wait { done in send(request, completion: done) }
        switch result {
        case .failure(let failure): throw failure
        case .httpStatus(let status, _, let snippet) where !(200...299).contains(status):
            throw DeliveryFailure(errorClass: "http_\(status / 100)xx", message: "HTTP \(status): \(snippet.prefix(200))", retryable: true)
        default: return
        }
    }

    /// Runs `start` and blocks until its completion fires.
    public static func wait(_ start: (@escaping @Sendable (AttemptResult) -> Void) -> Void) -> AttemptResult {
        let box = Mutex<AttemptResult?>(nil)
        let done = Wakeup()
        start { result in
            box.withLock { $0 = result }
            done.signal()
        }
        while true {
            if let result = box.withLock({ $0 }) { return result }
            done.wait(until: nil)
        }
    }

    /// Maps a transport response to an attempt result; only the status decides success.
    /// The body is cut to `snippetBytes` (at a character boundary) and both it and any error
    /// message pass through `redaction` before they can reach a log or the state database.
    static func result(of response: HTTPResponse, snippetBytes: Int, redaction: TextRedaction) -> AttemptResult {
        switch response.outcome {
        case .response(let status, let retryAfter, let body, _):
            return .httpStatus(status, retryAfter: retryAfter, snippet: snippet(of: body, bytes: snippetBytes, redaction: redaction))
        case .failure(let error):
            return .failure(DeliveryFailure(
                errorClass: error.errorClass.rawValue, message: redaction.apply(error.message),
                // Neither a bad request nor a refused address gets better by waiting.
                retryable: error.errorClass != .invalidRequest && error.errorClass != .blockedAddress))
        }
    }

    /// The first `bytes` of a response body as text, cut at a character boundary. Redaction
    /// runs over the whole body first, so a hidden value straddling the cut is not left half shown.
    static func snippet(of body: [UInt8], bytes: Int, redaction: TextRedaction) -> String {
        var utf8 = body
        if !redaction.isEmpty {
            utf8 = Array(redaction.apply(String(decoding: body, as: UTF8.self)).utf8)
        }
        guard utf8.count > bytes else { return String(decoding: utf8, as: UTF8.self) }
        var cut = bytes
        // Back off to the start of a UTF-8 sequence rather than end on a broken character.
        while cut > 0, utf8[cut] & 0xC0 == 0x80 { cut -= 1 }
        return String(decoding: utf8[..<cut], as: UTF8.self)
    }

    /// Response bytes each attempt keeps when `response_snippet_bytes` is not given: enough for
    /// an error message, too little for a receiver's error pages to fill the disk.
    public static let defaultResponseSnippetBytes = 2048
    /// The most `response_snippet_bytes` may be.
    public static let maxResponseSnippetBytes = 65_536

    /// Header names whose values are credentials: a literal value for one is a config error.
    static let credentialHeaderWords = ["authorization", "token", "secret", "api-key", "apikey", "password", "cookie"]

    /// Headers the runner sets itself; configuring them would break signing or dedupe.
    static let reservedHeaders = [
        "content-type", "content-length", "user-agent", "host", "x-loyali-signature", "x-loyali-event",
        "x-loyali-delivery", "x-loyali-attempt", "webhook-id", "webhook-timestamp", "webhook-signature",
        "transfer-encoding", "connection",
    ]

    /// Registry entry.
    public static let factory = SinkFactory(
        kind: "http", summary: "POST each delivery to a webhook URL",
        options: [
            ConfigKey("url", .string, required: true, "The webhook URL; http:// only for loopback unless allow_insecure_http. May take parts from ${VAR}."),
            ConfigKey("timeout", .duration(maximum: .maximumWait), "The overall deadline of one attempt (default 10s)."),
            ConfigKey("connect_timeout", .duration(maximum: .maximumWait), "The deadline for connecting (default 5s)."),
            ConfigKey("headers", .stringMap, "Extra request headers; credentials must come from \"${VAR}\"."),
            ConfigKey("max_in_flight", .integer(1...1024), "Attempts in flight at once for this sink (default 32)."),
            ConfigKey("max_response_bytes", .integer(0...(64 << 20)), "How much of a response is read (default 65536)."),
            ConfigKey("response_snippet_bytes", .integer(0...maxResponseSnippetBytes), "How much of a response the attempt log keeps (default 2048)."),
            ConfigKey("ca_file", .string, "A PEM file of extra certificate authorities to trust."),
            ConfigKey("allow_insecure_http", .boolean, "Allow http:// to hosts other than loopback."),
            ConfigKey(
                "allow_networks", .strings,
                "Internal address blocks (CIDR, e.g. 10.20.0.0/16 or fd00::/8) this sink may connect to; every private, "
                    + "link-local, CGNAT, multicast and reserved address is refused otherwise, and loopback unless the URL names it."),
        ]
    ) { name, mapping, reader in
        guard reader.require(["url"], in: mapping, context: "http sink '\(name)'") else { return nil }
        let allowInsecure = mapping["allow_insecure_http"].flatMap { reader.bool($0, what: "allow_insecure_http") } ?? false
        let urlNode = mapping["url"]!
        var url: WebhookURL?
        var displayURL = ""
        var redaction = TextRedaction()
        if let expansion = reader.sensitiveExpansion(urlNode, what: "url", kind: .url) {
            let fromEnvironment = expansion.shown != expansion.value
            displayURL = expansion.shown
            for substitution in expansion.substitutions { redaction.add(substitution) }
            reader.hideValues(of: expansion)
            switch WebhookURL.parse(expansion.value, allowInsecureHTTP: allowInsecure, written: fromEnvironment ? expansion.shown : nil) {
            case .success(let parsed):
                url = parsed
                if !fromEnvironment { displayURL = parsed.description }
            case .failure(let problem):
                // With an undefined part (validate without the environment), a problem counts
                // only when the written parts decide it: it must persist with other stand-ins.
                if !expansion.missing.isEmpty, let other = reader.alternativeURL(urlNode),
                    case .success = WebhookURL.parse(other, allowInsecureHTTP: allowInsecure)
                {
                    url = WebhookURL.placeholder
                } else {
                    reader.error(problem.description, at: urlNode)
                }
            }
        }
        let timeout = mapping["timeout"].map { reader.duration($0, what: "timeout", maximum: .maximumWait) } ?? .seconds(10)
        let connectTimeout = mapping["connect_timeout"].map { reader.duration($0, what: "connect_timeout", maximum: .maximumWait) } ?? .seconds(5)
        let maxInFlight = mapping["max_in_flight"].map { reader.integer($0, what: "max_in_flight", in: 1...1024) } ?? 32
        let maxResponse = mapping["max_response_bytes"].map { reader.integer($0, what: "max_response_bytes", in: 0...(64 << 20)) } ?? 65_536
        let snippetBytes = mapping["response_snippet_bytes"].map {
            reader.integer($0, what: "response_snippet_bytes", in: 0...maxResponseSnippetBytes)
        } ?? defaultResponseSnippetBytes
        var caFile: String?
        if let caNode = mapping["ca_file"], let path = reader.string(caNode, what: "ca_file") {
            if FileManager.default.isReadableFile(atPath: path) {
                caFile = path
            } else {
                reader.error("ca_file \(reader.quoted(caNode, path)) cannot be read", at: caNode)
            }
        }
        let allowedNetworks = mapping["allow_networks"].map { reader.networks($0, what: "allow_networks") } ?? []
        if let url, url != WebhookURL.placeholder, let urlNode = mapping["url"] {
            reader.warnIfBlocked(url, allowedNetworks: allowedNetworks + LazyHTTPClient.process.allowedNetworks, at: urlNode)
        }
        var headers: [ConfiguredHeader] = []
        if let headersNode = mapping["headers"], let headerMap = reader.mapping(headersNode, allowedKeys: nil, in: "headers") {
            for entry in headerMap.entries {
                let lower = entry.key.lowercased()
                guard !reservedHeaders.contains(lower) else {
                    reader.error("header '\(entry.key)' is set by loyali-hooks itself and cannot be configured", at: entry.keyNode)
                    continue
                }
                guard let expansion = reader.sensitiveExpansion(entry.value, what: "header '\(entry.key)'", kind: .token),
                    case .scalar(let template, _) = entry.value.content
                else { continue }
                reader.hideValues(of: expansion)
                if credentialHeaderWords.contains(where: lower.contains), !expansion.hasReferences {
                    reader.secretError(
                        "header '\(entry.key)' holds a literal credential; version-controlled config must not hold secrets, use \"${VAR}\"",
                        at: entry.value, secret: expansion.value)
                    continue
                }
                headers.append(ConfiguredHeader(
                    name: entry.key, value: expansion.value, displayValue: expansion.hasReferences ? template : expansion.value))
            }
        }
        guard let url, let timeout, let connectTimeout, let maxInFlight, let maxResponse, let snippetBytes else { return nil }
        return HTTPSink(
            url: url, timeout: timeout, connectTimeout: connectTimeout, maxInFlight: maxInFlight,
            maxResponseBytes: maxResponse, responseSnippetBytes: snippetBytes, caFile: caFile, configuredHeaders: headers,
            displayURL: displayURL, redaction: redaction, allowedNetworks: allowedNetworks, client: .process)
    }
}
