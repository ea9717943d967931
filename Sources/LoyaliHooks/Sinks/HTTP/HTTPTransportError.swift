/// Why an HTTP exchange produced no usable answer. The class is what the attempt log records and
/// what retry decisions look at; the message is for people.
public struct HTTPTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, with the stable name the attempt log stores.
    public enum ErrorClass: String, Sendable, Equatable, CaseIterable {
        /// The overall or connect deadline passed.
        case timeout
        /// Nothing accepted the TCP connection (refused or unreachable).
        case connectionRefused = "connection_refused"
        /// The host name did not resolve.
        case dns
        /// The TLS handshake or certificate verification failed.
        case tls
        /// The connection broke or closed before a complete response arrived.
        case reset
        /// The response headers exceeded their cap.
        case tooLarge = "too_large"
        /// The receiver's reply was not valid HTTP.
        case protocolViolation = "protocol"
        /// The request itself cannot be sent: a bad URL, scheme or header.
        case invalidRequest = "invalid_request"
        /// The SSRF guard refused the address the host resolved to (or the literal address in
        /// the URL): an internal one, not allowed by `allow_networks` or `--allow-network`.
        /// Nothing was sent, and retrying cannot help.
        case blockedAddress = "blocked_address"
        /// The client was shut down before the exchange finished.
        case cancelled
        /// Anything else libcurl reports.
        case other
    }

    /// The kind of failure.
    public var errorClass: ErrorClass
    /// What happened, for people, e.g. "Failed to connect to 127.0.0.1 port 9: Connection refused".
    public var message: String

    /// A failure of `errorClass` described by `message`.
    public init(_ errorClass: ErrorClass, _ message: String) {
        self.errorClass = errorClass
        self.message = message
    }

    /// `class: message`, e.g. `timeout: Operation timed out after 500 milliseconds`.
    public var description: String { "\(errorClass.rawValue): \(message)" }
}
