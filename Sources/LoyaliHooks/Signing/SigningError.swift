/// A signing setup that cannot work: an unknown scheme name, no usable secret, or a secret that is not
/// in the form the scheme needs. The message never contains secret material.
public struct SigningError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, in one sentence.
    public var message: String

    /// An error with the given message.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
