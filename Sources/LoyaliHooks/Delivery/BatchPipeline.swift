import Foundation

/// Runs a ``BatchWorker`` over batches on Dispatch's worker threads, at most `depth` at a time,
/// and hands results back in submission order.
///
/// The submitting thread blocks when `depth` batches are in flight, which bounds memory however
/// large the input is. It must not be a cooperative-pool thread.
final class BatchPipeline: @unchecked Sendable {
    // `results`, `submitted` and `delivered` are guarded by `condition`; the worker is immutable.
    private let worker: BatchWorker
    private let depth: Int
    private let condition = NSCondition()
    private var results: [Int: BatchWorker.Result] = [:]
    private var submitted = 0
    private var delivered = 0

    init(worker: BatchWorker, depth: Int) {
        self.worker = worker
        self.depth = max(1, depth)
    }

    /// Starts `batch`, waiting first while `depth` batches are unfinished.
    func submit(_ batch: LineBatch) {
        condition.lock()
        while submitted - delivered >= depth, results[delivered] == nil { condition.wait() }
        let sequence = submitted
        submitted += 1
        condition.unlock()
        if depth == 1 {
            store(worker.process(batch), at: sequence)
            return
        }
        DispatchQueue.global().async { [self] in store(worker.process(batch), at: sequence) }
    }

    private func store(_ result: BatchWorker.Result, at sequence: Int) {
        condition.lock()
        results[sequence] = result
        condition.broadcast()
        condition.unlock()
    }

    /// The next result in order if it is already finished.
    func nextReady() -> BatchWorker.Result? {
        condition.lock()
        defer { condition.unlock() }
        return takeNext()
    }

    /// The next result in order, waiting for it; `nil` once every submitted batch was handed out.
    func nextInOrder() -> BatchWorker.Result? {
        condition.lock()
        defer { condition.unlock() }
        while delivered < submitted {
            if let result = takeNext() { return result }
            condition.wait()
        }
        return nil
    }

    private func takeNext() -> BatchWorker.Result? {
        guard let result = results.removeValue(forKey: delivered) else { return nil }
        delivered += 1
        condition.broadcast()
        return result
    }
}
