/// One HTTP `POST` for ``CurlHTTPClient``: the exact bytes and headers to send, and the limits the
/// exchange must stay within.
public struct HTTPRequest: Sendable {
    /// The absolute `http://` or `https://` URL. Other schemes fail with `invalid_request`.
    public var url: String
    /// The headers sent, in this order, exactly as given. The transport adds only `Host` and
    /// `Content-Length`; it adds no `Accept`, `Content-Type`, `User-Agent` or `Expect` of its own.
    /// `Content-Length` and `Transfer-Encoding` are the transport's and cannot be given.
    public var headers: [HTTPHeader]
    /// The request body, sent byte for byte.
    public var body: [UInt8]
    /// The overall deadline for the exchange: connect, send and the whole response.
    public var timeout: Duration
    /// The deadline for the TCP connect and TLS handshake.
    public var connectTimeout: Duration
    /// The most response-body bytes kept; a longer body is cut off and not read further.
    public var maxResponseBytes: Int
    /// A PEM bundle of extra trusted CA certificates, added to the system's.
    public var caFile: String?
    /// Where `url` connects, when the caller has it parsed already; else it is parsed from `url`.
    public var destination: HTTPDestination?
    /// Internal blocks this request may connect to beside the client's own (a sink's
    /// `allow_networks`); see ``AddressGuard``.
    public var allowedNetworks: [IPNetwork] = []

    /// A request with the sink defaults: a 10 s deadline, a 5 s connect deadline and a 64 KiB cap.
    public init(
        url: String,
        headers: [HTTPHeader] = [],
        body: [UInt8] = [],
        timeout: Duration = .seconds(10),
        connectTimeout: Duration = .seconds(5),
        maxResponseBytes: Int = 65_536,
        caFile: String? = nil
    ) {
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.maxResponseBytes = maxResponseBytes
        self.caFile = caFile
    }
}
