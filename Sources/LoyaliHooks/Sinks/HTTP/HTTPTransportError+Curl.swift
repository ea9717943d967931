import CCurl

extension HTTPTransportError.ErrorClass {
    /// The class of a libcurl result other than `CURLE_OK`.
    ///
    /// `CURLE_WRITE_ERROR` never reaches here for a capped body: that abort is ours and is reported
    /// as a truncated response instead.
    init(curlCode code: CURLcode) {
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            self = .timeout
        case CURLE_COULDNT_CONNECT:
            self = .connectionRefused
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            self = .dns
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
            CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED:
            self = .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
            self = .reset
        case CURLE_FILESIZE_EXCEEDED:
            self = .tooLarge
        case CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_HTTP3,
            CURLE_BAD_CONTENT_ENCODING, CURLE_RANGE_ERROR, CURLE_TOO_MANY_REDIRECTS:
            self = .protocolViolation
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT:
            self = .invalidRequest
        default:
            self = .other
        }
    }
}

extension HTTPTransportError {
    /// The error for a finished libcurl transfer, preferring curl's specific error-buffer text
    /// (which names host and port) over the generic text for the code.
    init(curlCode code: CURLcode, detail: String) {
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        self.init(ErrorClass(curlCode: code), message)
    }
}
