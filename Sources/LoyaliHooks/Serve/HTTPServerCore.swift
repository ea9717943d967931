import CMicroHTTPD
import Foundation
import Synchronization

/// The part of ``HTTPServer`` that libmicrohttpd calls back into: it builds requests, reads
/// bodies under the cap, runs the handler and queues responses, suspending and resuming
/// connections whose handler answers later.
final class HTTPServerCore: Sendable {
    let handler: any HTTPServerHandler
    let limits: HTTPServer.Limits
    let reaper = ConnectionReaper()
    /// Connections suspended until their handler answers.
    private let suspended = Atomic<Int>(0)
    /// Set before the daemon is stopped; no connection may be resumed after that.
    private let stopped = Atomic<Bool>(false)
    /// Resumes under way; the stop waits for them to finish before destroying the daemon.
    private let resuming = Atomic<Int>(0)
    /// Requests handed to the handler whose request has not ended, so a stop can answer the ones
    /// the handler never will (libmicrohttpd aborts if stopped with a connection suspended).
    private let dispatched = Mutex<[ObjectIdentifier: HTTPRequestContext]>([:])

    /// When the first byte of each connection handed over by the ``ConnectionGate`` arrived,
    /// by descriptor, until libmicrohttpd reports the connection started.
    let firstBytes = Mutex<[Int32: UInt64]>([:])

    /// Bytes of a refused body read and thrown away, so the client can read the answer, before
    /// the connection is simply closed.
    static let maxDiscardedBytes = 256 << 20

    init(handler: any HTTPServerHandler, limits: HTTPServer.Limits) {
        self.handler = handler
        self.limits = limits
    }

    var suspendedCount: Int { suspended.load(ordering: .relaxed) }

    /// After this returns no resume is running or will start, so the daemon may be destroyed.
    func markStopped() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        while resuming.load(ordering: .sequentiallyConsistent) > 0 { sched_yield() }
    }

    // MARK: Callbacks (on libmicrohttpd's threads)

    func access(
        _ connection: OpaquePointer, url: UnsafePointer<CChar>?, method: UnsafePointer<CChar>?,
        uploadData: UnsafePointer<CChar>?, uploadSize: UnsafeMutablePointer<Int>,
        slot: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        guard let raw = slot.pointee else {
            // First call for this request: the head has arrived.
            let head = HTTPServerRequest(
                method: method.map { String(cString: $0) } ?? "GET", path: url.map { String(cString: $0) } ?? "/",
                query: Self.values(of: connection, kind: .GET_ARGUMENT_KIND).map { ($0.0, $0.1) },
                headers: Self.values(of: connection, kind: .HEADER_KIND).map { HTTPHeader(name: $0.0, value: $0.1 ?? "") })
            let context = HTTPRequestContext(connection: connection, head: head)
            slot.pointee = Unmanaged.passRetained(context).toOpaque()
            if Self.approximateHeadSize(head) > limits.maxHeaderBytes {
                // A later request on a kept-alive connection did not pass the gate: the same limit.
                var response = HTTPServerResponse.error(
                    431, "request_header_fields_too_large", "the request head is larger than the \(limits.maxHeaderBytes)-byte limit")
                response.closesConnection = true
                return queue(response, on: connection)
            }
            if let problem = head.framingProblem {
                // Where this body ends is ambiguous: answer without reading it, and close.
                var response = HTTPServerResponse.error(400, "bad_request", problem)
                response.closesConnection = true
                return queue(response, on: connection)
            }
            if let early = handler.respondBeforeBody(to: head) {
                return refuse(early, context: context, on: connection)
            }
            if let length = head.header("Content-Length").flatMap(Int.init), length > limits.maxBodyBytes {
                return refuse(tooLarge(), context: context, on: connection)
            }
            return .YES
        }
        let context = Unmanaged<HTTPRequestContext>.fromOpaque(raw).takeUnretainedValue()
        if context.dispatched {
            // Called again after a resume: the handler's answer is waiting.
            guard let response = context.takeResponse() else { return .YES }
            return queue(response, on: connection)
        }
        let size = uploadSize.pointee
        if size > 0 {
            if context.refusal != nil || context.request.body.count + size > limits.maxBodyBytes {
                // Chunked bodies have no length up front: read and drop the excess, then answer
                // 413; a client that keeps sending past the discard cap is disconnected.
                if context.refusal == nil { context.refusal = tooLarge() }
                context.request.body = []
                context.discarded += size
                if context.discarded > Self.maxDiscardedBytes { return .NO }
            } else if let uploadData {
                uploadData.withMemoryRebound(to: UInt8.self, capacity: size) {
                    context.request.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: size))
                }
            }
            uploadSize.pointee = 0
            return .YES
        }
        // The refused body has been read; the connection may stay open unless the refusal says
        // otherwise (413 closes it).
        if let refusal = context.refusal { return queue(refusal, on: connection) }
        context.dispatched = true
        dispatched.withLock { $0[ObjectIdentifier(context)] = context }
        Self.connectionRecord(of: connection)?.requestHandled()
        handler.handle(context.request, responder: HTTPResponder(context: context, core: self))
        if let response = context.responseOrSuspending() {
            return queue(response, on: connection)
        }
        suspend(connection)
        if context.confirmSuspended() == false {
            // The answer came while suspending: resume at once; the next call queues it.
            resume(connection)
        }
        return .YES
    }

    func completed(_ connection: OpaquePointer, slot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) {
        if let slot, let raw = slot.pointee {
            let context = Unmanaged<HTTPRequestContext>.fromOpaque(raw)
            _ = dispatched.withLock { $0.removeValue(forKey: ObjectIdentifier(context.takeUnretainedValue())) }
            context.release()
            slot.pointee = nil
        }
        Self.connectionRecord(of: connection)?.requestEnded()
    }

    func connectionEvent(
        _ connection: OpaquePointer, socketContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
        event: MHD_ConnectionNotificationCode
    ) {
        guard let socketContext else { return }
        switch event {
        case .CONNECTION_NOTIFY_STARTED:
            let fd = loyali_mhd_connection_fd(connection)
            let record = reaper.opened(fd: fd, firstByteAt: firstBytes.withLock { $0.removeValue(forKey: fd) })
            socketContext.pointee = Unmanaged.passRetained(record).toOpaque()
        case .CONNECTION_NOTIFY_CLOSED:
            guard let raw = socketContext.pointee else { return }
            let record = Unmanaged<ConnectionReaper.Connection>.fromOpaque(raw)
            reaper.closed(record.takeUnretainedValue())
            record.release()
            socketContext.pointee = nil
        }
    }

    /// A request line has been parsed on `connection`.
    func requestLineReceived(_ connection: OpaquePointer) {
        Self.connectionRecord(of: connection)?.requestLineReceived()
    }

    /// The reaper's record of a connection, kept in its socket context.
    private static func connectionRecord(of connection: OpaquePointer) -> ConnectionReaper.Connection? {
        loyali_mhd_socket_context(connection).map { Unmanaged<ConnectionReaper.Connection>.fromOpaque($0).takeUnretainedValue() }
    }

    // MARK: Suspend and resume

    private func suspend(_ connection: OpaquePointer) {
        suspended.add(1, ordering: .relaxed)
        MHD_suspend_connection(connection)
    }

    /// Resumes a suspended connection unless the daemon is being stopped. Safe from any thread.
    func resume(_ connection: OpaquePointer) {
        // Announce the resume before checking `stopped`; `markStopped` sets `stopped` before
        // waiting for announced resumes (both sequentially consistent), so either this resume
        // sees the stop, or the stop waits for it.
        resuming.add(1, ordering: .sequentiallyConsistent)
        if !stopped.load(ordering: .sequentiallyConsistent) { MHD_resume_connection(connection) }
        resuming.subtract(1, ordering: .sequentiallyConsistent)
        suspended.subtract(1, ordering: .relaxed)
    }

    /// Gives `response` to every dispatched request its handler has not answered yet, resuming
    /// the suspended ones; a handler answering later is ignored. Returns how many were answered.
    func answerUnanswered(with response: HTTPServerResponse) -> Int {
        let contexts = dispatched.withLock { Array($0.values) }
        var answered = 0
        for context in contexts where context.give(response) {
            resume(context.connection)
            answered += 1
        }
        return answered
    }

    /// Dispatched requests that have not ended (answered ones may still be sending).
    var dispatchedCount: Int { dispatched.withLock { $0.count } }

    // MARK: Helpers

    /// Answers a request refused from its head (401, 404, 413, …). When a body is on its way and
    /// the client is not waiting for `100 Continue`, the answer waits until the body has been read
    /// and dropped: closing with unread bytes makes the kernel reset the connection, and the
    /// client would see a broken pipe instead of the status. Bodies declared larger than the
    /// discard cap are not waited for.
    private func refuse(_ response: HTTPServerResponse, context: HTTPRequestContext, on connection: OpaquePointer) -> MHD_Result {
        let head = context.request
        let expectsContinue = head.header("Expect")?.lowercased() == "100-continue"
        let length = head.header("Content-Length").flatMap(Int.init)
        let chunked = head.header("Transfer-Encoding")?.lowercased().contains("chunked") == true
        let bodyComing = chunked || (length.map { $0 > 0 && $0 <= Self.maxDiscardedBytes } ?? false)
        guard bodyComing, !expectsContinue else { return queue(response, on: connection) }
        context.refusal = response
        return .YES
    }

    private func tooLarge() -> HTTPServerResponse {
        var response = HTTPServerResponse.error(
            413, "payload_too_large", "the request body is larger than the \(limits.maxBodyBytes)-byte limit",
            extra: [JSONObject.Member(key: "limit_bytes", value: .number(JSONNumber(Int64(limits.maxBodyBytes))))])
        response.closesConnection = true
        return response
    }

    private func queue(_ response: HTTPServerResponse, on connection: OpaquePointer) -> MHD_Result {
        handler.answered(status: response.status)
        let mhdResponse = response.body.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
        }
        guard let mhdResponse else { return .NO }
        defer { MHD_destroy_response(mhdResponse) }
        for header in response.headers {
            _ = MHD_add_response_header(mhdResponse, header.name, header.value)
        }
        if response.closesConnection { _ = MHD_add_response_header(mhdResponse, "Connection", "close") }
        return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    }

    /// The size of a head as sent, near enough (the query is counted decoded).
    private static func approximateHeadSize(_ head: HTTPServerRequest) -> Int {
        var size = head.method.utf8.count + head.path.utf8.count + " HTTP/1.1\r\n".utf8.count + 3
        for (name, value) in head.query { size += name.utf8.count + (value?.utf8.count ?? 0) + 2 }
        for field in head.headers { size += field.name.utf8.count + field.value.utf8.count + 4 }
        return size
    }

    /// Collects a connection's header fields or query arguments, in order.
    private static func values(of connection: OpaquePointer, kind: MHD_ValueKind) -> [(String, String?)] {
        var collected: [(String, String?)] = []
        withUnsafeMutablePointer(to: &collected) { pointer in
            _ = MHD_get_connection_values(
                connection, kind,
                { cls, _, key, value in
                    let list = cls!.assumingMemoryBound(to: [(String, String?)].self)
                    list.pointee.append((key.map { String(cString: $0) } ?? "", value.map { String(cString: $0) }))
                    return .YES
                }, pointer)
        }
        return collected
    }
}
