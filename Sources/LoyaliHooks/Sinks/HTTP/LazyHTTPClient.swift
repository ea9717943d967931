import Synchronization

/// A ``CurlHTTPClient`` created on first use and shared by every copy of the sink that owns it.
public final class LazyHTTPClient: Sendable {
    private let client = Mutex<CurlHTTPClient?>(nil)

    public init() {}

    /// The client, started now if needed.
    public func get(maxInFlight: Int) throws(HTTPTransportError) -> CurlHTTPClient {
        try client.withLock { (existing: inout CurlHTTPClient?) throws(HTTPTransportError) -> CurlHTTPClient in
            if let existing { return existing }
            let created = try CurlHTTPClient(maxInFlight: maxInFlight)
            existing = created
            return created
        }
    }

    /// The client if it was ever started.
    public var started: CurlHTTPClient? { client.withLock { $0 } }
}
