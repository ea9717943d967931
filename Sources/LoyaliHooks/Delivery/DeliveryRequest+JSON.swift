extension DeliveryRequest {
    /// Appends `"headers":{…},"body":"<exact signed body>"`, the part of a delivery that dry-run
    /// lines and sink-plugin messages share byte for byte.
    func appendHeadersAndBody(to out: inout [UInt8]) {
        out += #""headers":{"#.utf8
        for (index, header) in headers.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.appendJSONString(header.name, to: &out)
            out.append(UInt8(ascii: ":"))
            JSONValue.appendJSONString(header.value, to: &out)
        }
        out += #"},"body":"#.utf8
        // Bodies are our own serializer's output, so they are valid UTF-8 already.
        body.withUnsafeBufferPointer { JSONValue.appendJSONString(utf8: $0, to: &out) }
    }
}
