import CCurl
import Glibc

/// Owns one libcurl multi handle, the connection cache and driver of every transfer of one
/// ``CurlHTTPClient``, together with the epoll set that tells it which sockets are ready.
///
/// libcurl's socket interface (`curl_multi_socket_action`) is used rather than
/// `curl_multi_perform` + `curl_multi_poll`: libcurl reports each socket it cares about through a
/// callback, the loop waits on them with one `epoll_wait`, and libcurl then works only on the
/// connections that are ready. With 32 or more connections busy that saves polling every socket
/// twice per request, which was most of the loop thread's system time.
///
/// `@unchecked Sendable` because the handle is shared between the client and its loop thread, and
/// that is safe: the only call made from other threads is ``wakeup()``, a write to an eventfd;
/// everything else, including `timerDeadline`, is touched on the loop thread alone (libcurl calls
/// the callbacks from inside the loop thread's own calls into it).
final class CurlMultiHandle: @unchecked Sendable {
    /// The `CURLM *`.
    let raw: UnsafeMutableRawPointer
    /// The epoll set holding libcurl's sockets and ``wakeFD``.
    private let epollFD: Int32
    /// An eventfd that other threads write to interrupt a wait.
    private let wakeFD: Int32
    /// When libcurl next wants `CURL_SOCKET_TIMEOUT` handled; `nil` when it has no timer.
    private var timerDeadline: ContinuousClock.Instant?
    /// Where one `epoll_wait` reports its ready descriptors and their events; loop thread only.
    private let readyFDs = UnsafeMutableBufferPointer<Int32>.allocate(capacity: CurlMultiHandle.readyCapacity)
    private let readyEvents = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: CurlMultiHandle.readyCapacity)
    private static let readyCapacity = 64

    /// A multi handle that keeps up to `maxConnections` connections open for reuse and opens at
    /// most `maxConnections` to any one host.
    init(maxConnections: Int) throws(HTTPTransportError) {
        try CurlGlobal.ensureInitialized()
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else {
            throw HTTPTransportError(.other, "epoll_create1 failed: \(String(cString: strerror(errno)))")
        }
        let wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wakeFD >= 0, loyali_epoll_watch(epollFD, wakeFD, EPOLLIN.rawValue) == 0 else {
            close(epollFD)
            if wakeFD >= 0 { close(wakeFD) }
            throw HTTPTransportError(.other, "eventfd failed: \(String(cString: strerror(errno)))")
        }
        guard let raw = curl_multi_init() else {
            close(epollFD)
            close(wakeFD)
            throw HTTPTransportError(.other, "libcurl could not create a multi handle")
        }
        self.raw = raw
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        // The connection cache must hold every connection the in-flight requests use, or
        // keep-alive connections are closed and reopened under load.
        _ = loyali_multi_setopt_long(raw, CURLMOPT_MAXCONNECTS, maxConnections)
        // One request per connection at a time: never more connections to a host than requests
        // can be in flight, so a burst cannot open an unbounded number of sockets to a receiver.
        _ = loyali_multi_setopt_long(raw, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnections)
        _ = loyali_multi_setopt_long(raw, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxConnections)
        // HTTP/1.1 only: no multiplexing, so each transfer waits on its own connection and never
        // behind another receiver's slow response.
        _ = loyali_multi_setopt_long(raw, CURLMOPT_PIPELINING, CURLPIPE_NOTHING)

        // The callbacks get this object unretained: it outlives the multi handle, which it
        // cleans up in `deinit` while still alive.
        let context = Unmanaged.passUnretained(self).toOpaque()
        _ = loyali_multi_setopt_ptr(raw, CURLMOPT_SOCKETDATA, context)
        _ = loyali_multi_setopt_ptr(raw, CURLMOPT_TIMERDATA, context)
        _ = loyali_multi_setopt_socket_callback(raw) { _, socket, what, context, _ in
            guard let context else { return 0 }
            Unmanaged<CurlMultiHandle>.fromOpaque(context).takeUnretainedValue().watch(socket, what: what)
            return 0
        }
        _ = loyali_multi_setopt_timer_callback(raw) { _, timeoutMs, context in
            guard let context else { return 0 }
            let handle = Unmanaged<CurlMultiHandle>.fromOpaque(context).takeUnretainedValue()
            handle.timerDeadline = timeoutMs < 0 ? nil : .now + .milliseconds(timeoutMs)
            return 0
        }
    }

    deinit {
        curl_multi_cleanup(raw)
        close(epollFD)
        close(wakeFD)
        readyFDs.deallocate()
        readyEvents.deallocate()
    }

    /// `CURLMOPT_SOCKETFUNCTION`: keeps the epoll set in step with what libcurl waits for.
    private func watch(_ socket: curl_socket_t, what: Int32) {
        if what == CURL_POLL_REMOVE {
            loyali_epoll_unwatch(epollFD, socket)
            return
        }
        var events: UInt32 = 0
        if what & CURL_POLL_IN != 0 { events |= EPOLLIN.rawValue }
        if what & CURL_POLL_OUT != 0 { events |= EPOLLOUT.rawValue }
        // A failure here only happens for a socket libcurl is about to close; its transfer then
        // fails on its own deadline rather than hanging.
        _ = loyali_epoll_watch(epollFD, socket, events)
    }

    /// Interrupts a ``wait(upToMs:)`` in progress on the loop thread, or makes the next one return
    /// at once. Safe from any thread.
    func wakeup() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(wakeFD, $0.baseAddress, 8) }
    }

    /// Lets libcurl act on timers that are due, e.g. to start transfers just added.
    func runDueTimers() {
        guard let deadline = timerDeadline, deadline <= .now else { return }
        timerDeadline = nil
        var running: Int32 = 0
        _ = curl_multi_socket_action(raw, CURL_SOCKET_TIMEOUT, 0, &running)
    }

    /// Waits up to `maxWaitMs` (less if libcurl's own timer falls due sooner; 0 = just look) for
    /// a ready socket or a wake-up, and lets libcurl act on every socket that is ready and on its
    /// timer. Loop thread only.
    func wait(upToMs maxWaitMs: Int) {
        var timeout = maxWaitMs
        if let deadline = timerDeadline {
            timeout = min(timeout, max(0, CurlEasyHandle.milliseconds(ContinuousClock.now.duration(to: deadline)) - 1))
            if deadline <= .now { timeout = 0 }
        }
        let ready = loyali_epoll_wait(
            epollFD, readyFDs.baseAddress, readyEvents.baseAddress, Int32(Self.readyCapacity), Int32(clamping: timeout))
        var running: Int32 = 0
        for index in 0..<max(0, Int(ready)) {
            let fd = readyFDs[index]
            if fd == wakeFD {
                var count: UInt64 = 0
                _ = withUnsafeMutableBytes(of: &count) { read(wakeFD, $0.baseAddress, 8) }
                continue
            }
            let flags = readyEvents[index]
            var action: Int32 = 0
            if flags & (EPOLLIN.rawValue | EPOLLHUP.rawValue) != 0 { action |= CURL_CSELECT_IN }
            if flags & EPOLLOUT.rawValue != 0 { action |= CURL_CSELECT_OUT }
            if flags & EPOLLERR.rawValue != 0 { action |= CURL_CSELECT_ERR }
            _ = curl_multi_socket_action(raw, fd, action, &running)
        }
        runDueTimers()
    }
}
