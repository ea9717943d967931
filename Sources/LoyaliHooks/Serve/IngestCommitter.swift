import Foundation
import Synchronization

/// Group commit for HTTP ingest: requests hand their outbox rows here and wait; one dedicated
/// thread writes everything that queued up while the previous transaction ran as ONE store
/// transaction, then answers every waiting request. Under load a single fsync-free WAL commit
/// covers hundreds of requests, so throughput holds; when idle a lone request is committed at
/// once.
///
/// A request's completion runs only after its rows are committed (or the commit failed), so a
/// 202 is never sent for an event that is not durable.
public final class IngestCommitter: Sendable {
    /// One request's rows, the runner that owns them, and what to do once they are durable.
    public struct Submission: Sendable {
        /// The runner (configuration generation) whose outbox window the rows go to.
        public var runner: DeliveryRunner
        /// The runner's layout version the rows were planned under (see
        /// ``DeliveryRunner/enqueueIngested(_:counters:plannedVersion:)``); `nil` for the current one.
        public var plannedVersion: Int?
        /// The rows to store.
        public var rows: [NewDelivery]
        /// Events read, rejected and failed in transforms, for the runner's counters.
        public var counters: DeliveryRunner.Counters
        /// Called on the committer's thread with the outcome.
        public var completion: @Sendable (Result<Void, any Error>) -> Void

        /// Makes a submission from its parts.
        public init(
            runner: DeliveryRunner, plannedVersion: Int? = nil, rows: [NewDelivery], counters: DeliveryRunner.Counters,
            completion: @escaping @Sendable (Result<Void, any Error>) -> Void
        ) {
            self.runner = runner
            self.plannedVersion = plannedVersion
            self.rows = rows
            self.counters = counters
            self.completion = completion
        }
    }

    private struct Queue {
        var items: [Submission] = []
        var stopping = false
    }

    private let queue = Mutex<Queue>(Queue())
    private let wakeup = Wakeup()
    private let finished = Wakeup()
    private let logger: Logger
    private let commits = Atomic<Int>(0)
    private let committedRows = Atomic<Int>(0)
    private let committedRequests = Atomic<Int>(0)

    /// Starts the committer thread.
    public init(logger: Logger) {
        self.logger = logger
        let thread = Thread { [self] in
            loop()
            finished.signal()
        }
        thread.name = "loyali-hooks.ingest-commit"
        thread.start()
    }

    /// Queues a request's rows. Returns `false` (and never calls the completion) once the
    /// committer is stopping.
    public func submit(_ submission: Submission) -> Bool {
        let accepted = queue.withLock { queue -> Bool in
            guard !queue.stopping else { return false }
            queue.items.append(submission)
            return true
        }
        if accepted { wakeup.signal() }
        return accepted
    }

    /// Commits what is queued, refuses anything new, and waits for the thread to end.
    public func stop() {
        let first = queue.withLock { queue -> Bool in
            defer { queue.stopping = true }
            return !queue.stopping
        }
        guard first else { return }
        wakeup.signal()
        finished.wait(until: nil)
    }

    /// Transactions written, deliveries in them, and requests they answered, since start.
    public var totals: (commits: Int, rows: Int, requests: Int) {
        (commits.load(ordering: .relaxed), committedRows.load(ordering: .relaxed), committedRequests.load(ordering: .relaxed))
    }

    private func loop() {
        while true {
            let (items, stopping) = queue.withLock { queue -> ([Submission], Bool) in
                defer { queue.items.removeAll(keepingCapacity: true) }
                return (queue.items, queue.stopping)
            }
            if items.isEmpty {
                if stopping { return }
                wakeup.wait(until: nil)
                continue
            }
            commit(items)
        }
    }

    /// Writes `items` in one transaction per runner and configuration they were planned under
    /// (one, except just after a reload).
    private func commit(_ items: [Submission]) {
        var groups: [(runner: DeliveryRunner, version: Int?, items: [Submission])] = []
        for item in items {
            if let index = groups.firstIndex(where: { $0.runner === item.runner && $0.version == item.plannedVersion }) {
                groups[index].items.append(item)
            } else {
                groups.append((item.runner, item.plannedVersion, [item]))
            }
        }
        for group in groups {
            var rows: [NewDelivery] = []
            rows.reserveCapacity(group.items.reduce(0) { $0 + $1.rows.count })
            var counters = DeliveryRunner.Counters()
            for item in group.items {
                rows += item.rows
                counters.add(item.counters)
            }
            let result: Result<Void, any Error>
            do {
                try group.runner.enqueueIngested(rows, counters: counters, plannedVersion: group.version)
                commits.add(1, ordering: .relaxed)
                committedRows.add(rows.count, ordering: .relaxed)
                committedRequests.add(group.items.count, ordering: .relaxed)
                result = .success(())
            } catch {
                logger.log(.error, "storing ingested events failed", ["requests": String(group.items.count), "error": "\(error)"])
                result = .failure(error)
            }
            for item in group.items { item.completion(result) }
        }
    }
}
