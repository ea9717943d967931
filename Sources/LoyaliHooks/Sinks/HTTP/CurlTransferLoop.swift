import CCurl
import Synchronization

/// The body of a ``CurlHTTPClient``'s thread: starts queued requests on pooled easy handles,
/// drives them with `curl_multi_poll`, and completes them.
///
/// Requests wait here, per destination, until their destination has a free slot under the
/// per-host cap and the thread under its share of the global cap; only then does libcurl get
/// them. Destinations with waiting requests and a free slot take turns, one request each.
///
/// `@unchecked Sendable` only so that it can be handed to its `Thread`: from then on it is used on
/// that thread alone, and it shares nothing but ``CurlClientCore``, which is itself thread-safe.
final class CurlTransferLoop: @unchecked Sendable {
    private let core: CurlClientCore
    private var multi: UnsafeMutableRawPointer { core.multi.raw }
    /// Every easy handle created, busy or idle; at most the thread's connection share.
    private var handles: [CurlEasyHandle] = []
    /// Handles with no transfer, ready for the next request.
    private var idle: [CurlEasyHandle] = []
    /// Transfers currently added to the multi handle.
    private var active = 0
    /// Per destination seen: the requests waiting for a slot, and how many run.
    private var destinations: [DestinationQueue] = []
    /// Index into ``destinations`` by destination.
    private var destinationIndex: [HTTPDestination: Int] = [:]
    /// Destinations with waiting requests and a free slot, in turn order.
    private var ready = FIFOQueue<Int>()
    /// The buffer swapped with the shared queue, so taking work allocates nothing.
    private var incoming: [CurlTransfer] = []

    /// The longest single wait in `curl_multi_poll`. libcurl returns earlier for its own timers
    /// and senders wake it for new work, so this only bounds an idle wait.
    private static let idlePollMilliseconds: Int32 = 10_000

    init(core: CurlClientCore) {
        self.core = core
    }

    /// Runs until the client stops and everything it accepted has been completed.
    func run() {
        while true {
            let stopDeadline = takeIncoming()
            startWaiting()
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            completeFinished()

            if let stopDeadline {
                // With nothing running every destination has a free slot, so any destination
                // with waiting requests is in the turn order: an empty one means nothing waits.
                if active == 0 && ready.isEmpty && !sharedQueueHasWork() { break }
                if ContinuousClock.now >= stopDeadline { break }
            }
            // Slots freed and work waiting: start it before sleeping.
            if !ready.isEmpty && active < core.maxConnections { continue }
            guard prepareToSleep() else { continue }
            var timeout = Self.idlePollMilliseconds
            if let stopDeadline {
                let remaining = CurlEasyHandle.milliseconds(ContinuousClock.now.duration(to: stopDeadline))
                timeout = Int32(clamping: min(Int(timeout), remaining))
            }
            _ = curl_multi_poll(multi, nil, 0, timeout, nil)
        }
        cancelEverything()
        handles.removeAll()
        idle.removeAll()
        let waiters = core.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = true
            defer { state.finishWaiters.removeAll() }
            return state.finishWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Moves the shared queue into the destinations' queues; returns the stop deadline, if stopping.
    private func takeIncoming() -> ContinuousClock.Instant? {
        var taken = incoming
        incoming = []
        let deadline = core.state.withLock { state -> ContinuousClock.Instant? in
            swap(&state.queue, &taken)
            state.loopSleeping = false
            return state.stopDeadline
        }
        for transfer in taken {
            let index: Int
            if let known = destinationIndex[transfer.destination] {
                index = known
            } else {
                index = destinations.count
                destinations.append(DestinationQueue())
                destinationIndex[transfer.destination] = index
            }
            transfer.destinationIndex = index
            transfer.checksReusedConnection = destinations[index].notePolicy(transfer.request.allowedNetworks)
            destinations[index].waiting.append(transfer)
            markReadyIfRunnable(index)
        }
        taken.removeAll(keepingCapacity: true)
        incoming = taken
        return deadline
    }

    /// Puts destination `index` in the turn order if it has waiting requests and a free slot.
    private func markReadyIfRunnable(_ index: Int) {
        let destination = destinations[index]
        guard !destination.isReady, !destination.waiting.isEmpty, destination.running < core.maxConnectionsPerHost else { return }
        destinations[index].isReady = true
        ready.append(index)
    }

    private func sharedQueueHasWork() -> Bool {
        core.state.withLock { !$0.queue.isEmpty }
    }

    /// Declares the loop asleep unless work arrived meanwhile; `false` means go round again.
    private func prepareToSleep() -> Bool {
        core.state.withLock { state -> Bool in
            guard state.queue.isEmpty else { return false }
            state.loopSleeping = true
            return true
        }
    }

    /// Starts waiting transfers while the thread has slots, one per ready destination in turn.
    private func startWaiting() {
        while active < core.maxConnections, let index = ready.popFirst() {
            destinations[index].isReady = false
            // A ready destination has a waiting request: that is what made it ready.
            guard let transfer = destinations[index].waiting.popFirst() else { continue }
            destinations[index].running += 1
            markReadyIfRunnable(index)
            start(transfer)
        }
    }

    /// A transfer of destination `index` ended (or never started): its slot is free again.
    private func release(_ index: Int) {
        destinations[index].running -= 1
        markReadyIfRunnable(index)
    }

    private func start(_ transfer: CurlTransfer) {
        guard let handle = idle.popLast() ?? makeHandle() else {
            release(transfer.destinationIndex)
            transfer.completion(HTTPResponse(
                outcome: .failure(HTTPTransportError(.other, "libcurl could not create an easy handle")), durationMs: 0))
            return
        }
        handle.begin(transfer)
        transfer.markStarted()
        let code = curl_multi_add_handle(multi, handle.raw)
        guard code == CURLM_OK else {
            _ = handle.finish()
            idle.append(handle)
            release(transfer.destinationIndex)
            let message = String(cString: curl_multi_strerror(code))
            transfer.completion(HTTPResponse(outcome: .failure(HTTPTransportError(.other, message)), durationMs: 0))
            return
        }
        active += 1
    }

    private func makeHandle() -> CurlEasyHandle? {
        guard let handle = CurlEasyHandle(
            processAllowedNetworks: core.allowedNetworks, resolve: core.resolve, connectHook: core.connectHook) else { return nil }
        handles.append(handle)
        return handle
    }

    /// Completes every transfer libcurl reports done and returns its handle to the pool.
    private func completeFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let raw = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let handle = CurlEasyHandle.owning(raw) else { continue }
            // Read the results before removing the handle from the multi.
            let response = handle.transfer?.response(code: code, handle: handle)
            _ = curl_multi_remove_handle(multi, raw)
            active -= 1
            let transfer = handle.finish()
            idle.append(handle)
            if let transfer { release(transfer.destinationIndex) }
            if let transfer, let response { transfer.completion(response) }
        }
    }

    /// At the stop deadline: aborts what is running and completes it, and everything still
    /// queued, as `cancelled`.
    private func cancelEverything() {
        let cancelled = HTTPResponse(
            outcome: .failure(HTTPTransportError(.cancelled, "the HTTP client shut down before the request finished")),
            durationMs: 0)
        for handle in handles where handle.transfer != nil {
            _ = curl_multi_remove_handle(multi, handle.raw)
            active -= 1
            if let transfer = handle.finish() {
                var response = cancelled
                response.durationMs = transfer.elapsedMilliseconds()
                transfer.completion(response)
            }
        }
        var queued = destinations.flatMap { $0.waiting.elements.map(\.completion) }
        destinations.removeAll()
        destinationIndex.removeAll()
        ready.removeAll()
        queued += core.state.withLock { state -> [@Sendable (HTTPResponse) -> Void] in
            defer { state.queue.removeAll() }
            return state.queue.map(\.completion)
        }
        for completion in queued { completion(cancelled) }
    }
}

/// One destination's share of a ``CurlTransferLoop``: its waiting requests, oldest first, and how
/// many of its transfers run.
private struct DestinationQueue {
    var waiting = FIFOQueue<CurlTransfer>()
    var running = 0
    /// Whether it is in the loop's turn order now.
    var isReady = false
    /// The allowed blocks (``HTTPRequest/allowedNetworks``) of the destination's first request.
    private var firstPolicy: [IPNetwork]?
    /// Requests with other allowed blocks have come since: from then on the guard checks every
    /// kept-alive connection again before a request uses it, since it may have been opened
    /// under more permissive blocks. Until then (one sink per host, or sinks alike) every
    /// connection was checked under the very blocks of the request reusing it.
    private var mixedPolicies = false

    /// Records a request's allowed blocks; returns whether its reuse of a kept-alive connection
    /// must be checked again.
    mutating func notePolicy(_ allowedNetworks: [IPNetwork]) -> Bool {
        guard let firstPolicy else {
            firstPolicy = allowedNetworks
            return false
        }
        // Usually the same array, shared by every request of a sink: compared by identity first.
        if !mixedPolicies && allowedNetworks != firstPolicy { mixedPolicies = true }
        return mixedPolicies
    }
}
