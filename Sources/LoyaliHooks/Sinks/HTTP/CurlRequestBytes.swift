import CCurl

/// What libcurl reads of one request, built in ONE allocation: the `curl_slist` of header lines
/// for `CURLOPT_HTTPHEADER` (the list nodes, then every line's bytes, NUL-terminated), then the
/// body for `CURLOPT_POSTFIELDS`.
///
/// libcurl only reads these (it never frees or keeps them past the transfer), so they need not come
/// from `curl_slist_append`, which makes two allocations per header (about two dozen per request,
/// each freed later on the transfer thread), nor from a separate copy of the body.
///
/// Also rejects a header that would corrupt the request, and adds the empty lines that stop
/// libcurl from adding headers of its own.
struct CurlRequestBytes: ~Copyable {
    /// The first node, or `nil` for an empty list.
    let head: UnsafeMutablePointer<curl_slist>?
    /// The body; never null, even for an empty body, so `CURLOPT_POSTFIELDS` always points at it.
    let body: UnsafeRawPointer
    /// The body's length in bytes.
    let bodyCount: Int
    private let storage: UnsafeMutableRawPointer

    /// Without these libcurl would add `Expect: 100-continue` (a round trip on larger bodies),
    /// `Accept: */*` and a form `Content-Type`: the receiver must see only what was given.
    private static let suppressed: [[UInt8]] = ["expect", "accept", "content-type"].map { Array($0.utf8) }
    /// The body's framing is the transport's: a second length would let the receiver read the
    /// request differently from how it was sent.
    private static let framing: [[UInt8]] = ["content-length", "transfer-encoding"].map { Array($0.utf8) }

    /// The bytes for `headers` and `body`, or `invalid_request` for a header that cannot be sent
    /// as one field.
    init(headers: [HTTPHeader], body: [UInt8]) throws(HTTPTransportError) {
        var given = [false, false, false]
        var textCount = 0
        for header in headers {
            let nameCount = try Self.validate(header, given: &given)
            textCount += nameCount + 2 + header.value.utf8.count + 1
        }
        var added: [Int] = []
        for index in Self.suppressed.indices where !given[index] {
            added.append(index)
            textCount += Self.suppressed[index].count + 2
        }
        let count = headers.count + added.count
        let nodeBytes = count * MemoryLayout<curl_slist>.stride
        let storage = UnsafeMutableRawPointer.allocate(
            byteCount: max(1, nodeBytes + textCount + body.count), alignment: MemoryLayout<curl_slist>.alignment)
        let nodes = storage.bindMemory(to: curl_slist.self, capacity: count)
        var text = (storage + nodeBytes).bindMemory(to: UInt8.self, capacity: textCount + body.count)
        var node = 0
        func appendLine(_ write: (inout UnsafeMutablePointer<UInt8>) -> Void) {
            let start = text
            write(&text)
            text.pointee = 0
            text += 1
            (nodes + node).initialize(to: curl_slist(
                data: UnsafeMutableRawPointer(start).assumingMemoryBound(to: CChar.self),
                next: node + 1 < count ? nodes + node + 1 : nil))
            node += 1
        }
        for header in headers {
            appendLine { text in
                Self.copy(header.name, to: &text)
                if header.value.isEmpty {
                    // "Name:" alone would tell libcurl to drop the header; "Name;" sends it empty.
                    text.pointee = UInt8(ascii: ";")
                    text += 1
                } else {
                    text.pointee = UInt8(ascii: ":")
                    (text + 1).pointee = UInt8(ascii: " ")
                    text += 2
                    Self.copy(header.value, to: &text)
                }
            }
        }
        for index in added {
            appendLine { text in
                Self.copy(Self.suppressed[index], to: &text)
                text.pointee = UInt8(ascii: ":")
                text += 1
            }
        }
        let bodyStart = text
        Self.copy(body, to: &text)
        self.head = count > 0 ? nodes : nil
        self.body = UnsafeRawPointer(bodyStart)
        self.bodyCount = body.count
        self.storage = storage
    }

    deinit {
        storage.deallocate()
    }

    private static func copy(_ string: String, to text: inout UnsafeMutablePointer<UInt8>) {
        var string = string
        string.withUTF8 { copy($0, to: &text) }
    }

    private static func copy(_ bytes: [UInt8], to text: inout UnsafeMutablePointer<UInt8>) {
        bytes.withUnsafeBufferPointer { copy($0, to: &text) }
    }

    private static func copy(_ bytes: UnsafeBufferPointer<UInt8>, to text: inout UnsafeMutablePointer<UInt8>) {
        guard let base = bytes.baseAddress else { return }
        text.initialize(from: base, count: bytes.count)
        text += bytes.count
    }

    /// Rejects a header that would split into several lines or not parse as one field, marks in
    /// `given` which of ``suppressed`` it names, and returns the name's length in bytes.
    ///
    /// This runs for every header of every attempt, so names are compared as bytes and only
    /// against the fixed names of the same length.
    private static func validate(_ header: HTTPHeader, given: inout [Bool]) throws(HTTPTransportError) -> Int {
        var name = header.name
        let (nameIsToken, isFraming, nameCount) = name.withUTF8 { bytes -> (Bool, Bool, Int) in
            guard !bytes.isEmpty, bytes.allSatisfy(HTTPHeader.isTokenByte) else { return (false, false, bytes.count) }
            for (index, fixed) in suppressed.enumerated() where fixed.count == bytes.count && bytes.caseInsensitiveEquals(fixed) {
                given[index] = true
            }
            let isFraming = framing.contains { $0.count == bytes.count && bytes.caseInsensitiveEquals($0) }
            return (true, isFraming, bytes.count)
        }
        guard nameIsToken else {
            throw HTTPTransportError(.invalidRequest, "header name '\(header.name)' is not a valid HTTP field name")
        }
        guard !isFraming else {
            throw HTTPTransportError(.invalidRequest, "header '\(header.name)' is set by the transport and cannot be given")
        }
        var value = header.value
        let valueIsOneLine = value.withUTF8 { bytes in !bytes.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 } }
        guard valueIsOneLine else {
            // The value is not echoed: it may be a credential.
            throw HTTPTransportError(.invalidRequest, "header '\(header.name)' has a line break or NUL in its value")
        }
        return nameCount
    }
}
