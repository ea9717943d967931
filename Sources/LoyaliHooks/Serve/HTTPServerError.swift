/// A listener that could not start: the address is taken, not permitted, or not an address.
///
/// Prints like the other errors: `127.0.0.1:8787: error: cannot listen: Address already in use`.
public struct HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `host:port` concerned.
    public var address: String
    /// Why it failed.
    public var reason: String

    /// Makes an error from its parts.
    public init(address: String, reason: String) {
        self.address = address
        self.reason = reason
    }

    public var description: String { "\(address): error: cannot listen: \(reason)" }
}
