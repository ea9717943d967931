/// One HTTP request as libmicrohttpd parsed it: never parsed by hand.
///
/// Handlers first see the head (``body`` empty) in ``HTTPServerHandler/respondBeforeBody(to:)``,
/// then the whole request in ``HTTPServerHandler/handle(_:responder:)``.
public struct HTTPServerRequest: Sendable {
    /// `GET`, `POST`, … as sent.
    public var method: String
    /// The path, without the query string.
    public var path: String
    /// Query arguments in order, decoded; a key without `=` has a `nil` value.
    public var query: [(name: String, value: String?)]
    /// Header fields in order.
    public var headers: [HTTPHeader]
    /// The body (empty until it has been read).
    public var body: [UInt8]

    /// Makes a request from its parts (tests build requests this way).
    public init(
        method: String, path: String, query: [(name: String, value: String?)] = [], headers: [HTTPHeader] = [],
        body: [UInt8] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// The last value of query argument `name` (`""` for a bare `?name`).
    public func queryValue(_ name: String) -> String? {
        query.last { $0.name == name }.map { $0.value ?? "" }
    }

    /// The media type of `Content-Type`, lowercased, without parameters such as `charset`.
    public var mediaType: String? {
        guard let value = header("Content-Type") else { return nil }
        // Byte-wise: this runs for every ingest request.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for byte in value.utf8 {
            if byte == UInt8(ascii: ";") { break }
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { continue }
            bytes.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The `Authorization: Bearer` token, if the header has that form.
    public var bearerToken: String? {
        guard let value = header("Authorization") else { return nil }
        let utf8 = value.utf8
        guard utf8.count > 7, utf8.prefix(6).caseInsensitiveEquals("Bearer".utf8), utf8.dropFirst(6).first == UInt8(ascii: " ") else {
            return nil
        }
        let token = utf8.dropFirst(7).drop { $0 == UInt8(ascii: " ") }
        var end = token.endIndex
        while end > token.startIndex, utf8[utf8.index(before: end)] == UInt8(ascii: " ") { end = utf8.index(before: end) }
        let trimmed = token[token.startIndex..<end]
        return trimmed.isEmpty ? nil : String(trimmed)
    }
}
