import Foundation

/// Runs a ``BatchWorker`` over batches on its own worker threads, at most `depth` at a time, and
/// hands results back in submission order.
///
/// The submitting thread blocks when `depth` batches are in flight, which bounds memory however
/// large the input is. It must not be a cooperative-pool thread.
///
/// The workers are dedicated threads rather than Dispatch's pool because a batch may block for a
/// while on a plugin's replies: Dispatch would not start another thread for the next batch then,
/// and the plugin processes and this process would take turns instead of working in parallel.
final class BatchPipeline {
    private let shared: Shared
    private let depth: Int
    private var threadsStarted = 0

    init(worker: BatchWorker, depth: Int) {
        self.depth = max(1, depth)
        self.shared = Shared(worker: worker)
    }

    deinit { shared.close() }

    /// Starts `batch`, waiting first while `depth` batches are unfinished, or `inFlight` when
    /// that is fewer (large batches: see ``BatchSizer/batchesInFlight(depth:)``).
    func submit(_ batch: LineBatch, inFlight: Int = .max) {
        if depth == 1 {
            let sequence = shared.reserve(depth: 1)
            shared.store(shared.worker.process(batch), at: sequence)
            return
        }
        if threadsStarted < depth {
            threadsStarted += 1
            let shared = self.shared
            let thread = Thread { shared.work() }
            thread.name = "loyali-hooks.batch"
            // Replies from plugins and deeply nested events are parsed on these threads.
            thread.stackSize = 8 << 20
            thread.start()
        }
        shared.enqueue(batch, depth: max(1, min(depth, inFlight)))
    }

    /// The next result in order if it is already finished.
    func nextReady() -> BatchWorker.Result? { shared.nextReady() }

    /// The next result in order, waiting for it; `nil` once every submitted batch was handed out.
    func nextInOrder() -> BatchWorker.Result? { shared.nextInOrder() }

    /// The state the submitting thread and the workers share.
    private final class Shared: @unchecked Sendable {
        // Everything mutable is guarded by `condition`; the worker is immutable. That is why it
        // is safe to share between the threads.
        let worker: BatchWorker
        private let condition = NSCondition()
        private var jobs: [(sequence: Int, batch: LineBatch)] = []
        private var results: [Int: BatchWorker.Result] = [:]
        private var submitted = 0
        private var delivered = 0
        private var closed = false

        init(worker: BatchWorker) { self.worker = worker }

        /// Takes the next sequence number, waiting while `depth` batches are unfinished.
        func reserve(depth: Int) -> Int {
            condition.lock()
            defer { condition.unlock() }
            while submitted - delivered >= depth, results[delivered] == nil { condition.wait() }
            submitted += 1
            return submitted - 1
        }

        func enqueue(_ batch: LineBatch, depth: Int) {
            condition.lock()
            while submitted - delivered >= depth, results[delivered] == nil { condition.wait() }
            jobs.append((submitted, batch))
            submitted += 1
            condition.broadcast()
            condition.unlock()
        }

        /// A worker thread's loop: process jobs until closed.
        func work() {
            while true {
                condition.lock()
                while jobs.isEmpty && !closed { condition.wait() }
                if jobs.isEmpty {
                    condition.unlock()
                    return
                }
                let job = jobs.removeFirst()
                condition.unlock()
                store(worker.process(job.batch), at: job.sequence)
            }
        }

        func store(_ result: BatchWorker.Result, at sequence: Int) {
            condition.lock()
            results[sequence] = result
            condition.broadcast()
            condition.unlock()
        }

        func nextReady() -> BatchWorker.Result? {
            condition.lock()
            defer { condition.unlock() }
            return takeNext()
        }

        func nextInOrder() -> BatchWorker.Result? {
            condition.lock()
            defer { condition.unlock() }
            while delivered < submitted {
                if let result = takeNext() { return result }
                condition.wait()
            }
            return nil
        }

        func close() {
            condition.lock()
            closed = true
            condition.broadcast()
            condition.unlock()
        }

        private func takeNext() -> BatchWorker.Result? {
            guard let result = results.removeValue(forKey: delivered) else { return nil }
            delivered += 1
            condition.broadcast()
            return result
        }
    }
}
