/// A listener that could not start: the address is taken, not permitted, or not an address.
///
/// Prints like the other errors: `127.0.0.1:8787: error: cannot listen: port 8787 is already in use`.
public struct HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `host:port` concerned.
    public var address: String
    /// Why it failed.
    public var reason: String
    /// The address itself is the problem (in use, not local, not permitted, not numeric): a
    /// configuration error, exit 2. Otherwise the server could not start for another reason.
    public var isAddressProblem: Bool

    /// Makes an error from its parts.
    public init(address: String, reason: String, isAddressProblem: Bool = false) {
        self.address = address
        self.reason = reason
        self.isAddressProblem = isAddressProblem
    }

    public var description: String { "\(address): error: cannot listen: \(reason)" }
}
