import CCurl

/// `curl_global_init`, done once per process before the first handle is created.
enum CurlGlobal {
    /// The result of the one-time initialisation; a `static let` is initialised exactly once,
    /// thread-safely, on first use.
    private static let initResult: CURLcode = loyali_curl_global_init()

    /// Initialises libcurl if no earlier call has, and reports a failure of that one call.
    static func ensureInitialized() throws(HTTPTransportError) {
        let code = initResult
        guard code == CURLE_OK else {
            throw HTTPTransportError(.other, "libcurl failed to initialise: \(String(cString: curl_easy_strerror(code)))")
        }
    }
}
