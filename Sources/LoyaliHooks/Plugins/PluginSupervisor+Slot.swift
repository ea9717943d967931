import Foundation

/// The supervisor's bookkeeping types: a request on its way to a process, where its reply goes,
/// and each process slot with its outstanding requests. Like every mutable part of the supervisor,
/// they are touched only while its lock is held.
extension PluginSupervisor {
    struct Request {
        /// The message after its id; a slice of one buffer for a whole batch.
        var payload: ArraySlice<UInt8>
        var target: Target
    }

    /// Where a reply goes: a callback, or a slot of a batch (no closure per request).
    enum Target {
        case callback(Completion)
        case batch(ReplyCollector, Int)

        func deliver(_ reply: Reply) {
            switch self {
            case .callback(let completion): completion(reply)
            case .batch(let collector, let index): collector.set(reply, at: index)
            }
        }
    }

    enum SlotState {
        /// Not running and not to be restarted (before start, after shutdown or a failed start-up).
        case stopped
        /// Spawned; waiting for `ready`.
        case starting(PluginProcess, since: ContinuousClock.Instant)
        case running(PluginProcess)
        /// Failed; to be spawned again at that time.
        case restarting(at: ContinuousClock.Instant)
    }

    /// One of the `concurrency` processes, over its restarts.
    final class Slot {
        let index: Int
        var state = SlotState.stopped
        /// Outstanding requests by id, and their ids in the order written.
        var pending: [Int: Request] = [:]
        var order: [Int] = []
        var orderHead = 0
        /// The last reply (or the moment the first outstanding request was written).
        var lastProgress = ContinuousClock.now
        /// Failures since the last process that answered a request.
        var consecutiveFailures = 0
        /// Whether the current process answered a request.
        var answered = false
        /// Whether the last failure was a failed (re)start rather than a crash of a working process.
        var startFailed = false
        /// Why the last start-up failed.
        var lastError: PluginError?
        /// Stderr lines of the starting process, logged once it is ready.
        var startupStderr: [String] = []

        init(index: Int) { self.index = index }

        var process: PluginProcess? {
            switch state {
            case .starting(let process, _), .running(let process): process
            case .stopped, .restarting: nil
            }
        }

        var isRunning: Bool {
            if case .running = state { return true }
            return false
        }

        /// Waiting to restart after a working process failed, so the restart should succeed.
        var restartingAfterCrash: Bool {
            if case .restarting = state { return !startFailed }
            return false
        }

        /// Removes and returns the outstanding requests, oldest first.
        func takePending() -> [Request] {
            var taken: [Request] = []
            for id in order[orderHead...] {
                if let request = pending.removeValue(forKey: id) { taken.append(request) }
            }
            pending.removeAll()
            order.removeAll()
            orderHead = 0
            return taken
        }

        func add(_ request: Request, id: Int) {
            if pending.isEmpty { lastProgress = .now }
            pending[id] = request
            order.append(id)
        }

        func remove(id: Int) -> Request? {
            guard let request = pending.removeValue(forKey: id) else { return nil }
            // Forget answered ids at the front so `order` does not grow without bound.
            while orderHead < order.count, pending[order[orderHead]] == nil { orderHead += 1 }
            if orderHead > 4096, orderHead * 2 > order.count {
                order.removeFirst(orderHead)
                orderHead = 0
            }
            return request
        }
    }
}
