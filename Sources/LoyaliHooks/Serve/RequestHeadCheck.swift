/// Judges a connection's first request head from its bytes, before libmicrohttpd reads them.
///
/// libmicrohttpd answers a head it cannot take (too large, malformed, an unsupported version,
/// an unreadable `Content-Length`) itself, with an HTML page and no way to change it. The
/// ``ConnectionGate`` peeks at each new connection's head and runs it through this check, which
/// is at least as strict as libmicrohttpd, so every such answer is ours: JSON, counted.
enum RequestHeadCheck {
    /// What to do with the bytes seen so far.
    enum Verdict: Equatable {
        /// The head has not ended yet and is within the limits: wait for more.
        case incomplete
        /// A well-formed head: libmicrohttpd may have the connection.
        case accept
        /// Answer this and close.
        case refuse(status: Int, code: String, message: String)
    }

    /// Header fields allowed in one head; libmicrohttpd spends pool memory on each.
    static let maxFields = 100

    /// Judges `bytes`, the start of what the client sent; `limit` is the largest head accepted
    /// and `maxBodyBytes` the body cap (a `Content-Length` too long to parse is over it).
    static func inspect(_ bytes: UnsafeBufferPointer<UInt8>, limit: Int, maxBodyBytes: Int) -> Verdict {
        // Empty lines before the request line are ignored (RFC 9112 §2.2).
        var start = 0
        while start < bytes.count, bytes[start] == 0x0D || bytes[start] == 0x0A { start += 1 }
        var lines: [Range<Int>] = []
        var lineStart = start
        var index = start
        var headEnd: Int?
        while index < bytes.count, index - start <= limit {
            if bytes[index] == 0x0A {
                let lineEnd = index > lineStart && bytes[index - 1] == 0x0D ? index - 1 : index
                if lineEnd == lineStart {
                    headEnd = index + 1
                    break
                }
                lines.append(lineStart..<lineEnd)
                lineStart = index + 1
            }
            index += 1
        }
        guard let headEnd, headEnd - start <= limit else {
            if bytes.count - start <= limit { return .incomplete }
            return lines.isEmpty
                ? .refuse(status: 414, code: "uri_too_long", message: "the request line is longer than the \(limit)-byte limit of a request head")
                : .refuse(status: 431, code: "request_header_fields_too_large", message: "the request head is larger than the \(limit)-byte limit")
        }
        if lines.count - 1 > maxFields {
            return .refuse(
                status: 431, code: "request_header_fields_too_large", message: "the request head has more than \(maxFields) header fields")
        }
        if let refusal = requestLineProblem(UnsafeBufferPointer(rebasing: bytes[lines[0]])) { return refusal }
        var fields: [HTTPHeader] = []
        for range in lines.dropFirst() {
            let line = UnsafeBufferPointer(rebasing: bytes[range])
            guard let field = Self.field(line) else {
                return .refuse(status: 400, code: "bad_request", message: "malformed header line \(fields.count + 1): expected 'Name: value'")
            }
            fields.append(field)
        }
        let head = HTTPServerRequest(method: "", path: "", headers: fields)
        if let problem = head.framingProblem {
            return .refuse(status: 400, code: "bad_request", message: problem)
        }
        // More digits than any body this server takes, and more than libmicrohttpd can parse.
        if let length = head.header("Content-Length"), length.utf8.count > 18 {
            return .refuse(
                status: 413, code: "payload_too_large", message: "the request body is larger than the \(maxBodyBytes)-byte limit")
        }
        return .accept
    }

    /// `METHOD SP target SP HTTP/1.x`, or why not.
    private static func requestLineProblem(_ line: UnsafeBufferPointer<UInt8>) -> Verdict? {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(HTTPHeader.isTokenByte), !parts[1].isEmpty,
            parts[1].allSatisfy({ $0 > 0x20 && $0 != 0x7F })
        else {
            return .refuse(status: 400, code: "bad_request", message: "malformed request line: expected 'METHOD /path HTTP/1.1'")
        }
        let version = Array(parts[2])
        guard version.count == 8, version[..<5].elementsEqual("HTTP/".utf8), version[6] == UInt8(ascii: "."),
            isDigit(version[5]), isDigit(version[7])
        else {
            return .refuse(status: 400, code: "bad_request", message: "malformed request line: the version must read HTTP/1.1 or HTTP/1.0")
        }
        guard version[5] == UInt8(ascii: "1") else {
            let text = String(decoding: version, as: UTF8.self)
            return .refuse(status: 505, code: "http_version_not_supported", message: "\(text) is not supported; use HTTP/1.1")
        }
        return nil
    }

    /// `Name: value` with a token name and no whitespace before the colon (RFC 9112 §5.1);
    /// a line folded onto the previous one (starting with whitespace) is refused too.
    private static func field(_ line: UnsafeBufferPointer<UInt8>) -> HTTPHeader? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0, line[..<colon].allSatisfy(HTTPHeader.isTokenByte) else { return nil }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        guard !value.contains(where: { $0 < 0x20 && $0 != 0x09 }) else { return nil }
        return HTTPHeader(name: String(decoding: line[..<colon], as: UTF8.self), value: String(decoding: value, as: UTF8.self))
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
