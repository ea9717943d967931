/// A bearer token that a listener requires (`Authorization: Bearer <token>`).
///
/// The value never leaves this type: it prints as `<redacted>`, and a presented token is checked
/// with ``ConstantTime/equals(_:_:)``, so neither logs nor response timing reveal it.
public struct BearerToken: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    private let bytes: [UInt8]

    /// Wraps `value`; `nil` when it is empty (an empty token would accept `Bearer ` alone).
    public init?(_ value: String) {
        guard !value.isEmpty else { return nil }
        bytes = Array(value.utf8)
    }

    /// Whether `presented` is this token. Constant time in the token's content.
    public func matches(_ presented: String?) -> Bool {
        guard let presented else { return false }
        return ConstantTime.equals(Array(presented.utf8), bytes)
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
