/// A way of signing webhook bodies into HTTP headers, chosen per pipeline with `sign.scheme`.
public protocol SignatureScheme: Sendable {
    /// Headers that sign `body` for one attempt; deliveryID is the whd_ id, timestamp unix seconds.
    func signatureHeaders(body: UnsafeRawBufferPointer, deliveryID: String, timestamp: Int64) -> [HTTPHeader]
}

extension SignatureScheme {
    /// Convenience for callers holding the body as an array.
    public func signatureHeaders(body: [UInt8], deliveryID: String, timestamp: Int64) -> [HTTPHeader] {
        body.withUnsafeBytes { signatureHeaders(body: $0, deliveryID: deliveryID, timestamp: timestamp) }
    }
}
