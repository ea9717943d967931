import CCurl

/// Owns one libcurl multi handle: the connection cache and the driver of every transfer of one
/// ``CurlHTTPClient`` thread.
///
/// `@unchecked Sendable` because the handle is shared between the client and its loop thread, and
/// that is safe: the only call made from other threads is `curl_multi_wakeup`, which libcurl
/// documents as callable from any thread; every other call happens on the loop thread.
final class CurlMultiHandle: @unchecked Sendable {
    /// The `CURLM *`.
    let raw: UnsafeMutableRawPointer

    /// A multi handle that keeps up to `maxConnections` connections open, idle ones included, and
    /// at most `perHost` to any one host.
    init(maxConnections: Int, perHost: Int) throws(HTTPTransportError) {
        try CurlGlobal.ensureInitialized()
        guard let raw = curl_multi_init() else {
            throw HTTPTransportError(.other, "libcurl could not create a multi handle")
        }
        self.raw = raw
        // The connection cache must hold every connection the in-flight requests use, or
        // keep-alive connections are closed and reopened under load.
        _ = loyali_multi_setopt_long(raw, CURLMOPT_MAXCONNECTS, maxConnections)
        // Backstops only: the loop hands libcurl no more transfers per destination and in all than
        // these, so a transfer never waits inside libcurl (where its deadline would run). Both
        // count idle connections too; at the total cap libcurl closes the oldest idle one.
        _ = loyali_multi_setopt_long(raw, CURLMOPT_MAX_HOST_CONNECTIONS, perHost)
        _ = loyali_multi_setopt_long(raw, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxConnections)
        // HTTP/1.1 only: no multiplexing, so each transfer waits on its own connection and never
        // behind another receiver's slow response.
        _ = loyali_multi_setopt_long(raw, CURLMOPT_PIPELINING, CURLPIPE_NOTHING)
    }

    /// Interrupts a `curl_multi_poll` in progress on the loop thread, or makes the next one
    /// return at once. Safe from any thread.
    func wakeup() {
        _ = curl_multi_wakeup(raw)
    }

    deinit {
        curl_multi_cleanup(raw)
    }
}
