/// The `whd_` delivery id: one per (event, pipeline, sink), identical on every retry and after a
/// source replay, so receivers can dedupe on it and the store never makes a second delivery.
public enum DeliveryID {
    /// `whd_` + the first 128 bits of SHA-256 over the three names joined by NUL bytes. Pipeline and
    /// sink names cannot hold NUL, so the split is unambiguous and `("a.b","c")` never meets `("a","b.c")`.
    public static func make(eventID: String, pipeline: String, sink: String) -> String {
        var input: [UInt8] = []
        input.reserveCapacity(eventID.utf8.count + pipeline.utf8.count + sink.utf8.count + 2)
        input.append(contentsOf: eventID.utf8)
        input.append(0)
        input.append(contentsOf: pipeline.utf8)
        input.append(0)
        input.append(contentsOf: sink.utf8)
        let digest = input.withUnsafeBytes { SHA256Digest.hash($0) }
        return "whd_" + Hex.encode(digest.prefix(16))
    }
}
