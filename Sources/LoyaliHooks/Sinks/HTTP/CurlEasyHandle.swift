import CCurl
import Glibc

/// Owns one libcurl easy handle, reused transfer after transfer so that its settings are applied
/// once and its connection stays warm in the multi handle's cache.
///
/// Used only on the loop thread of one ``CurlHTTPClient``.
final class CurlEasyHandle {
    /// The `CURL *`.
    let raw: UnsafeMutableRawPointer
    /// Where libcurl writes a specific message ("Failed to connect to host port 80: …") when a
    /// transfer fails.
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// The transfer running on this handle. Holding it here keeps the pointers libcurl was given
    /// (callback context, body, header list) alive exactly as long as the transfer runs.
    private(set) var transfer: CurlTransfer?
    /// The CA bundle set with `CURLOPT_CAINFO`; `nil` while the system default applies.
    private var caFile: String?
    /// The URL and deadlines set for the previous transfer. libcurl keeps options from one
    /// transfer to the next, and a handle mostly serves one sink, so each is set again only when
    /// it differs: setting the URL copies it, and a deadline costs a conversion.
    private var lastURL: String?
    private var lastTimeout: Duration?
    private var lastConnectTimeout: Duration?
    /// Blocks the SSRF guard allows for every request of the process (`--allow-network`).
    private let processAllowedNetworks: [IPNetwork]
    /// `CURLOPT_RESOLVE` entries (`host:port:address`), for tests that point a name at loopback.
    private let resolveList: UnsafeMutablePointer<curl_slist>?
    /// Tests only: see ``CurlClientCore/connectHook``.
    private let connectHook: (@Sendable (IPAddress) -> Bool)?

    /// A handle with the fixed settings, or `nil` when libcurl is out of memory.
    init?(processAllowedNetworks: [IPNetwork] = [], resolve: [String] = [], connectHook: (@Sendable (IPAddress) -> Bool)? = nil) {
        guard let raw = curl_easy_init() else { return nil }
        self.raw = raw
        self.processAllowedNetworks = processAllowedNetworks
        self.connectHook = connectHook
        var list: UnsafeMutablePointer<curl_slist>?
        for entry in resolve {
            guard let longer = curl_slist_append(list, entry) else {
                curl_slist_free_all(list)
                curl_easy_cleanup(raw)
                return nil
            }
            list = longer
        }
        resolveList = list
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(to: 0)
        applyFixedOptions()
    }

    deinit {
        curl_easy_cleanup(raw)
        curl_slist_free_all(resolveList)
        errorBuffer.deallocate()
    }

    /// The settings every transfer shares; `curl_easy_reset` clears them, so this is re-applied
    /// after one.
    private func applyFixedOptions() {
        // Multithreaded: timeouts must not use SIGALRM.
        _ = loyali_easy_setopt_long(raw, CURLOPT_NOSIGNAL, 1)
        // Redirects are failures for webhooks and are never followed; a 3xx is returned as is.
        _ = loyali_easy_setopt_long(raw, CURLOPT_FOLLOWLOCATION, 0)
        _ = loyali_easy_setopt_long(raw, CURLOPT_MAXREDIRS, 0)
        // A configured URL must never reach file://, gopher:// and the like.
        _ = loyali_easy_setopt_str(raw, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = loyali_easy_setopt_str(raw, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        _ = loyali_easy_setopt_long(raw, CURLOPT_SSL_VERIFYPEER, 1)
        _ = loyali_easy_setopt_long(raw, CURLOPT_SSL_VERIFYHOST, 2)
        _ = loyali_easy_setopt_long(raw, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        // An empty proxy disables the `http_proxy` family of variables: where deliveries go is
        // decided by the pipeline file alone.
        _ = loyali_easy_setopt_str(raw, CURLOPT_PROXY, "")
        _ = loyali_easy_setopt_long(raw, CURLOPT_TCP_NODELAY, 1)
        _ = loyali_easy_setopt_long(raw, CURLOPT_POST, 1)
        _ = loyali_easy_setopt_ptr(raw, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = loyali_easy_setopt_write_callback(raw, CURLOPT_WRITEFUNCTION) { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            return Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
                .receiveBody(UnsafeRawBufferPointer(start: buffer, count: size * count))
        }
        _ = loyali_easy_setopt_write_callback(raw, CURLOPT_HEADERFUNCTION) { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            return Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
                .receiveHeader(UnsafeRawBufferPointer(start: buffer, count: size * count))
        }
        // Lets the loop find this object from the `CURL *` in a completion message.
        let this = Unmanaged.passUnretained(self).toOpaque()
        _ = loyali_easy_setopt_ptr(raw, CURLOPT_PRIVATE, this)
        // The SSRF guard: libcurl calls this instead of socket(2) for every address it tries,
        // after DNS, so a refused address gets no socket and no packet.
        _ = loyali_easy_setopt_ptr(raw, CURLOPT_OPENSOCKETDATA, this)
        _ = loyali_easy_setopt_opensocket_callback(raw) { context, _, address in
            guard let context, let address else { return CURL_SOCKET_BAD }
            return Unmanaged<CurlEasyHandle>.fromOpaque(context).takeUnretainedValue().openSocket(address)
        }
        // And before each request: a kept-alive connection was checked for the request that
        // opened it, which may have allowed more.
        _ = loyali_easy_setopt_ptr(raw, CURLOPT_PREREQDATA, this)
        _ = loyali_easy_setopt_prereq_callback(raw) { context, primaryIP, _, _, _ in
            guard let context else { return CURL_PREREQFUNC_ABORT }
            let handle = Unmanaged<CurlEasyHandle>.fromOpaque(context).takeUnretainedValue()
            return handle.admitRequest(peer: primaryIP) ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT
        }
        if let resolveList { _ = loyali_easy_setopt_slist(raw, CURLOPT_RESOLVE, resolveList) }
    }

    /// `CURLOPT_OPENSOCKETFUNCTION`: a socket for `address` if the guard allows it, else
    /// `CURL_SOCKET_BAD`, which libcurl takes as a failed connect (and tries the host's next
    /// address).
    private func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        guard let transfer else { return CURL_SOCKET_BAD }
        let ip = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer -> IPAddress? in
            let count = Int(loyali_curl_sockaddr_address(address, buffer.baseAddress))
            return IPAddress(bytes: UnsafeMutableBufferPointer(rebasing: buffer[..<count]))
        }
        guard transfer.admitConnection(to: ip, processAllowedNetworks: processAllowedNetworks) else { return CURL_SOCKET_BAD }
        if let connectHook, let ip, !connectHook(ip) { return CURL_SOCKET_BAD }
        // What libcurl itself would do, plus close-on-exec: plugins run as child processes.
        return socket(address.pointee.family, address.pointee.socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.protocol)
    }

    /// `CURLOPT_PREREQFUNCTION`: whether the request may go over the connection to `peer`.
    private func admitRequest(peer: UnsafeMutablePointer<CChar>?) -> Bool {
        guard let transfer else { return false }
        return transfer.admitRequest(peer: peer, processAllowedNetworks: processAllowedNetworks)
    }

    /// Points the handle at `transfer`'s request; the handle holds the transfer until ``finish()``.
    func begin(_ transfer: CurlTransfer) {
        let request = transfer.request
        if request.caFile != caFile {
            if let path = request.caFile {
                _ = loyali_easy_setopt_str(raw, CURLOPT_CAINFO, path)
            } else {
                // Only a reset restores libcurl's built-in default CA bundle; it clears every
                // other option too.
                curl_easy_reset(raw)
                applyFixedOptions()
                lastURL = nil
                lastTimeout = nil
                lastConnectTimeout = nil
            }
            caFile = request.caFile
        }
        self.transfer = transfer
        errorBuffer[0] = 0
        if request.url != lastURL {
            // Remembered only once libcurl has it: a failed copy (no memory) is tried again.
            lastURL = loyali_easy_setopt_str(raw, CURLOPT_URL, request.url) == CURLE_OK ? request.url : nil
        }
        _ = loyali_easy_setopt_slist(raw, CURLOPT_HTTPHEADER, transfer.bytes.head)
        _ = loyali_easy_setopt_ptr(raw, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: transfer.bytes.body))
        _ = loyali_easy_setopt_off_t(raw, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(transfer.bytes.bodyCount))
        if request.timeout != lastTimeout {
            _ = loyali_easy_setopt_long(raw, CURLOPT_TIMEOUT_MS, Self.milliseconds(request.timeout))
            lastTimeout = request.timeout
        }
        if request.connectTimeout != lastConnectTimeout {
            _ = loyali_easy_setopt_long(raw, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(request.connectTimeout))
            lastConnectTimeout = request.connectTimeout
        }
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        _ = loyali_easy_setopt_ptr(raw, CURLOPT_WRITEDATA, context)
        _ = loyali_easy_setopt_ptr(raw, CURLOPT_HEADERDATA, context)
    }

    /// Ends the current transfer and returns it. Clears every pointer into it first, so the
    /// handle, idle in the pool, refers to no freed memory.
    func finish() -> CurlTransfer? {
        _ = loyali_easy_setopt_slist(raw, CURLOPT_HTTPHEADER, nil)
        _ = loyali_easy_setopt_ptr(raw, CURLOPT_POSTFIELDS, nil)
        _ = loyali_easy_setopt_ptr(raw, CURLOPT_WRITEDATA, nil)
        _ = loyali_easy_setopt_ptr(raw, CURLOPT_HEADERDATA, nil)
        defer { transfer = nil }
        return transfer
    }

    /// The HTTP status of the last response received, or 0.
    var responseCode: Int {
        var code = 0
        _ = loyali_easy_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    /// libcurl's specific message for the last failure, or "".
    var errorDetail: String { String(cString: errorBuffer) }

    /// The handle whose `CURLOPT_PRIVATE` points at it.
    static func owning(_ raw: UnsafeMutableRawPointer) -> CurlEasyHandle? {
        var pointer: UnsafeMutableRawPointer?
        guard loyali_easy_getinfo_ptr(raw, CURLINFO_PRIVATE, &pointer) == CURLE_OK, let pointer else { return nil }
        return Unmanaged<CurlEasyHandle>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// A deadline in whole milliseconds for libcurl, at least 1: libcurl reads 0 as "no limit",
    /// and every request must have one.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 1 }
        let (millis, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return Int(Int32.max) }
        return max(1, min(Int(Int32.max), Int(millis + attoseconds / 1_000_000_000_000_000)))
    }
}
