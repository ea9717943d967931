/// The default scheme, byte-compatible with Stripe's:
/// `X-Loyali-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, each `v1` an HMAC-SHA256 over
/// the exact bytes `"<t>.<body>"` keyed with one secret's full UTF-8 text.
public struct LoyaliSignatureScheme: SignatureScheme {
    /// The name pipelines use for this scheme.
    public static let name = "loyali"
    /// The header carrying the signature.
    public static let headerName = "X-Loyali-Signature"

    private let keys: [HMACSHA256Key]

    /// Signs with each of `secrets`, in order: one `v1` per secret, so receivers can rotate.
    public init(secrets: [WebhookSecret]) {
        keys = secrets.map { HMACSHA256Key($0.loyaliKey) }
    }

    public func signatureHeaders(
        body: UnsafeRawBufferPointer, deliveryID: String, timestamp: Int64
    ) -> [HTTPHeader] {
        [HTTPHeader(name: Self.headerName, value: headerValue(body: body, timestamp: timestamp))]
    }

    /// The `X-Loyali-Signature` value for `body` sent at `timestamp`.
    public func headerValue(body: UnsafeRawBufferPointer, timestamp: Int64) -> String {
        var digits = String(timestamp)  // at most 20 bytes, so stored inline without allocating
        return digits.withUTF8 { digits in
            let signatureLength = 4 + 2 * HMACSHA256Key.macLength  // ",v1=" + hex
            let length = 2 + digits.count + keys.count * signatureLength
            // Built in place in one String buffer; this runs once per delivery attempt.
            return String(unsafeUninitializedCapacity: length) { out in
                out[0] = UInt8(ascii: "t")
                out[1] = UInt8(ascii: "=")
                var position = 2 + UnsafeMutableBufferPointer(rebasing: out[2...]).initialize(from: digits).1
                forEachSignature(body: body, digits: UnsafeRawBufferPointer(digits)) { mac in
                    for byte in ",v1=".utf8 {
                        out[position] = byte
                        position += 1
                    }
                    position += Hex.write(mac, to: UnsafeMutableBufferPointer(rebasing: out[position...]))
                }
                return position
            }
        }
    }

    /// The lowercase hex `v1` each secret gives `body` at `timestamp`, as UTF-8 bytes; the verifier
    /// compares these against received values.
    func expectedHexSignatures(body: UnsafeRawBufferPointer, timestamp: Int64) -> [[UInt8]] {
        var digits = String(timestamp)
        return digits.withUTF8 { digits in
            var result: [[UInt8]] = []
            result.reserveCapacity(keys.count)
            forEachSignature(body: body, digits: UnsafeRawBufferPointer(digits)) { mac in
                result.append(
                    [UInt8](unsafeUninitializedCapacity: 2 * mac.count) { hex, initialized in
                        initialized = Hex.write(mac, to: hex)
                    })
            }
            return result
        }
    }

    /// Calls `use` with each key's 32-byte MAC of `"<digits>.<body>"`, held in a stack buffer.
    private func forEachSignature(
        body: UnsafeRawBufferPointer, digits: UnsafeRawBufferPointer, _ use: (UnsafeRawBufferPointer) -> Void
    ) {
        var mac: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &mac) { macBuffer in
            for key in keys {
                key.authenticate(prefix: digits, separator: UInt8(ascii: "."), body: body, into: macBuffer)
                use(UnsafeRawBufferPointer(macBuffer))
            }
        }
    }
}
