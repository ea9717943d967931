extension HTTPServerRequest {
    /// Why the head's body framing is ambiguous, or `nil` when it is not.
    ///
    /// A proxy and this server must agree on where a body ends, or a request can be smuggled
    /// inside another (RFC 9112 §6.1, §6.3). Refused: `Transfer-Encoding` together with
    /// `Content-Length`; more than one `Content-Length` (even equal ones: nothing here needs
    /// them) or one that is not a plain number; `Transfer-Encoding` sent twice or other than
    /// exactly `chunked`, the only coding libmicrohttpd decodes.
    var framingProblem: String? {
        var lengths: [String] = []
        var codings: [String] = []
        for field in headers {
            if field.name.caseInsensitiveEquals("Content-Length") {
                lengths.append(field.value)
            } else if field.name.caseInsensitiveEquals("Transfer-Encoding") {
                codings.append(field.value)
            }
        }
        if !codings.isEmpty, !lengths.isEmpty {
            return "the request has both Transfer-Encoding and Content-Length"
        }
        if lengths.count > 1 {
            return "the request has \(lengths.count) Content-Length fields"
        }
        if let length = lengths.first, length.isEmpty || !length.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return "Content-Length must be a decimal number of bytes"
        }
        if codings.count > 1 {
            return "the request has \(codings.count) Transfer-Encoding fields"
        }
        if let coding = codings.first, !coding.caseInsensitiveEquals("chunked") {
            return "Transfer-Encoding must be chunked"
        }
        return nil
    }
}
