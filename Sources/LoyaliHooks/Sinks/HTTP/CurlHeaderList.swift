import CCurl

/// The request headers as the `curl_slist` that `CURLOPT_HTTPHEADER` reads, built in ONE
/// allocation: the list nodes first, then every line's bytes, NUL-terminated.
///
/// libcurl only reads this list (it never frees or keeps it past the transfer), so it need not
/// come from `curl_slist_append`, which makes two allocations per header: about two dozen per
/// request, each freed later on a different thread.
///
/// Also rejects a header that would corrupt the request, and adds the empty lines that stop
/// libcurl from adding headers of its own.
struct CurlHeaderList: ~Copyable {
    /// The first node, or `nil` for an empty list.
    let head: UnsafeMutablePointer<curl_slist>?
    private let storage: UnsafeMutableRawPointer?

    /// Without these libcurl would add `Expect: 100-continue` (a round trip on larger bodies),
    /// `Accept: */*` and a form `Content-Type`: the receiver must see only what was given.
    private static let suppressed: [[UInt8]] = ["expect", "accept", "content-type"].map { Array($0.utf8) }
    /// The body's framing is the transport's: a second length would let the receiver read the
    /// request differently from how it was sent.
    private static let framing: [[UInt8]] = ["content-length", "transfer-encoding"].map { Array($0.utf8) }

    /// The list for `headers`, or `invalid_request` for a header that cannot be sent as one field.
    init(_ headers: [HTTPHeader]) throws(HTTPTransportError) {
        var given = [false, false, false]
        var byteCount = 0
        for header in headers {
            try Self.validate(header)
            for (index, name) in Self.suppressed.enumerated() where header.name.utf8.caseInsensitiveEquals(name) {
                given[index] = true
            }
            byteCount += header.name.utf8.count + 2 + header.value.utf8.count + 1
        }
        let added = Self.suppressed.indices.filter { !given[$0] }
        for index in added { byteCount += Self.suppressed[index].count + 2 }
        let count = headers.count + added.count
        guard count > 0 else {
            head = nil
            storage = nil
            return
        }
        let nodeBytes = count * MemoryLayout<curl_slist>.stride
        let storage = UnsafeMutableRawPointer.allocate(byteCount: nodeBytes + byteCount, alignment: MemoryLayout<curl_slist>.alignment)
        let nodes = storage.bindMemory(to: curl_slist.self, capacity: count)
        var text = (storage + nodeBytes).assumingMemoryBound(to: UInt8.self)
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
        self.head = nodes
        self.storage = storage
    }

    deinit {
        storage?.deallocate()
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

    /// Rejects a header that would split into several lines or not parse as one field.
    private static func validate(_ header: HTTPHeader) throws(HTTPTransportError) {
        var name = header.name
        let nameIsToken = name.withUTF8 { bytes in
            !bytes.isEmpty && bytes.allSatisfy(HTTPHeader.isTokenByte)
        }
        guard nameIsToken else {
            throw HTTPTransportError(.invalidRequest, "header name '\(header.name)' is not a valid HTTP field name")
        }
        guard !framing.contains(where: { header.name.utf8.caseInsensitiveEquals($0) }) else {
            throw HTTPTransportError(.invalidRequest, "header '\(header.name)' is set by the transport and cannot be given")
        }
        var value = header.value
        let valueIsOneLine = value.withUTF8 { bytes in !bytes.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 } }
        guard valueIsOneLine else {
            // The value is not echoed: it may be a credential.
            throw HTTPTransportError(.invalidRequest, "header '\(header.name)' has a line break or NUL in its value")
        }
    }
}
