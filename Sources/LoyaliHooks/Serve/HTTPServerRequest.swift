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
        let type = value.split(separator: ";", maxSplits: 1).first ?? ""
        return type.trimmingCharacters(in: " \t").lowercased()
    }

    /// The `Authorization: Bearer` token, if the header has that form.
    public var bearerToken: String? {
        guard let value = header("Authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].caseInsensitiveEquals("Bearer") else { return nil }
        return parts[1].trimmingCharacters(in: " \t")
    }
}

extension StringProtocol {
    /// ASCII case-insensitive equality, for header names and auth schemes.
    func caseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        let a = utf8
        let b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z"))
        }
    }

    /// The text without leading and trailing characters in `set`.
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
