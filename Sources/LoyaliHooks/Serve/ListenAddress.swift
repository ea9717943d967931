#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `host:port` to listen on: `127.0.0.1:8787`, `[::1]:8787`, `localhost:8787`, `0.0.0.0:8787`
/// or `:8787` (every IPv4 interface). Port 0 asks the kernel for a free port.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// The numeric host (`localhost` is kept as written and binds 127.0.0.1).
    public var host: String
    /// The port; 0 picks a free one.
    public var port: Int

    /// Parses `text`; `nil` when it is not `host:port` with a numeric address or `localhost`.
    public init?(_ text: String) {
        var hostPart: Substring
        var portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { return nil }
        }
        if hostPart.isEmpty { hostPart = "0.0.0.0" }
        guard let port = Int(portPart), (0...65_535).contains(port) else { return nil }
        self.host = String(hostPart)
        self.port = port
        guard Self.resolve(host) != nil else { return nil }
    }

    /// An address from its parts (not checked; ``bind()`` reports a bad host).
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this machine can connect (127.0.0.0/8, ::1, localhost).
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// A numeric address: IPv4 or IPv6.
    enum Resolved {
        case v4(in_addr)
        case v6(in6_addr)
    }

    static func resolve(_ host: String) -> Resolved? {
        let numeric = host == "localhost" ? "127.0.0.1" : host
        var v4 = in_addr()
        if inet_pton(AF_INET, numeric, &v4) == 1 { return .v4(v4) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, numeric, &v6) == 1 { return .v6(v6) }
        return nil
    }

    /// Opens a non-blocking TCP socket bound to this address and listening, and returns it with
    /// the port actually bound. The caller owns the descriptor.
    func bind(backlog: Int32 = 1_024) throws(HTTPServerError) -> (fd: Int32, port: Int) {
        guard let resolved = Self.resolve(host) else {
            throw HTTPServerError(address: description, reason: "'\(host)' is not a numeric IP address or localhost", isAddressProblem: true)
        }
        let family: Int32
        switch resolved {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError(address: description, reason: SystemError.describe(errno)) }
        var failure: Int32 = 0
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        switch resolved {
        case .v4(let address):
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
            socketAddress.sin_addr = address
            failure = Self.bind(fd, to: &socketAddress)
        case .v6(let address):
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = in_port_t(UInt16(port).bigEndian)
            socketAddress.sin6_addr = address
            failure = Self.bind(fd, to: &socketAddress)
        }
        if failure == 0 { failure = listen(fd, backlog) }
        guard failure == 0 else {
            let code = errno
            close(fd)
            throw bindError(code)
        }
        return (fd, Self.boundPort(fd) ?? port)
    }

    /// Why binding failed, naming the port when it is taken.
    private func bindError(_ code: Int32) -> HTTPServerError {
        let reason =
            switch code {
            case EADDRINUSE: "port \(port) is already in use (\(SystemError.describe(code)))"
            case EACCES: "port \(port) needs privileges (\(SystemError.describe(code)))"
            case EADDRNOTAVAIL: "\(host) is not an address of this machine (\(SystemError.describe(code)))"
            default: SystemError.describe(code)
            }
        return HTTPServerError(address: description, reason: reason, isAddressProblem: [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(code))
    }

    /// `bind(2)` for a `sockaddr_in` or `sockaddr_in6`, passed as the generic `sockaddr` it is.
    private static func bind<Address>(_ fd: Int32, to address: inout Address) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
    }

    /// The local port of a bound socket.
    static func boundPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return nil
        }
    }
}
