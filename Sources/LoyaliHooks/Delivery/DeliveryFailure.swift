/// Why one delivery attempt did not succeed.
public struct DeliveryFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// A short machine-readable class: `io`, `timeout`, `refused`, `http_status`, `unsupported`, …
    public var errorClass: String
    /// What happened, for the delivery log.
    public var message: String
    /// Whether another attempt could succeed.
    public var retryable: Bool

    public init(errorClass: String, message: String, retryable: Bool) {
        self.errorClass = errorClass
        self.message = message
        self.retryable = retryable
    }

    public var description: String { "\(errorClass): \(message)" }
}
