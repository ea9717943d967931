import Synchronization

/// The counters behind `GET /metrics`: events ingested and rejected per source, attempts judged
/// per pipeline/sink/outcome with a latency histogram, retries, ingest responses and reloads.
/// Queue depth and the failed count are read from the store at scrape time (``render(_:)``).
///
/// Updates take a short lock; they come from ingest threads and the runners' dispatch threads.
public final class ServeMetrics: DeliveryObserver {
    /// Upper bounds, in seconds, of the attempt-latency histogram buckets.
    public static let latencyBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    private struct SinkKey: Hashable, Comparable {
        var pipeline: String
        var sink: String
        static func < (a: SinkKey, b: SinkKey) -> Bool { (a.pipeline, a.sink) < (b.pipeline, b.sink) }
    }

    private struct SinkCounters {
        var succeeded = 0
        var failed = 0
        var retries = 0
        /// Attempts per bucket (not cumulative); the last slot is over the largest bound.
        var buckets = [Int](repeating: 0, count: ServeMetrics.latencyBuckets.count + 1)
        var sumSeconds = 0.0
        var attempts = 0
    }

    private struct SourceCounters {
        var ingested = 0
        var rejected = 0
    }

    private struct Process {
        var reloadsSucceeded = 0
        var reloadsFailed = 0
        var generation = 0
    }

    private let sinks = Mutex<[SinkKey: SinkCounters]>([:])
    private let sources = Mutex<[String: SourceCounters]>([:])
    private let ingestStatuses = Mutex<[Int: Int]>([:])
    private let process = Mutex<Process>(Process())
    /// Sink health transitions announced by this process's runners, by sink and new status.
    private let sinkChanges = Mutex<[SinkKey: [SinkState.Status: Int]]>([:])
    /// Failed store calls by operation; every operation shows, at 0 until one fails.
    private let storeWriteFailures = Mutex<[String: Int]>(["claim": 0, "enqueue": 0, "record": 0])
    /// Operational events waiting in memory for the store, and those given up.
    private let operational = Mutex<(waiting: Int, dropped: Int)>((0, 0))

    /// All counters at zero.
    public init() {}

    /// Makes every sink and source of `pipelines` appear (at zero) before anything happens.
    public func register(_ pipelines: [PipelineDefinition]) {
        sinks.withLock { sinks in
            for pipeline in pipelines {
                for sink in pipeline.sinks where sinks[SinkKey(pipeline: pipeline.name, sink: sink.name)] == nil {
                    sinks[SinkKey(pipeline: pipeline.name, sink: sink.name)] = SinkCounters()
                }
            }
        }
        sources.withLock { sources in
            for pipeline in pipelines where pipeline.source is HTTPSource && sources[pipeline.source.identity] == nil {
                sources[pipeline.source.identity] = SourceCounters()
            }
        }
    }

    public func attemptJudged(pipeline: String, sink: String, outcome: AttemptOutcome, durationMs: Int64) {
        let seconds = Double(durationMs) / 1000
        let bucket = Self.latencyBuckets.firstIndex { seconds <= $0 } ?? Self.latencyBuckets.count
        sinks.withLock { sinks in
            var counters = sinks[SinkKey(pipeline: pipeline, sink: sink)] ?? SinkCounters()
            switch outcome {
            case .succeeded: counters.succeeded += 1
            case .failed: counters.failed += 1
            case .retry: counters.retries += 1
            }
            counters.buckets[bucket] += 1
            counters.sumSeconds += seconds
            counters.attempts += 1
            sinks[SinkKey(pipeline: pipeline, sink: sink)] = counters
        }
    }

    /// Counts a sink's health transition.
    public func sinkStateChanged(_ change: SinkStateChange) {
        sinkChanges.withLock { $0[SinkKey(pipeline: change.state.pipeline, sink: change.state.sink), default: [:]][change.state.status, default: 0] += 1 }
    }

    public func storeWriteFailed(operation: String) {
        storeWriteFailures.withLock { $0[operation, default: 0] += 1 }
    }

    public func operationalEventsWaiting(change: Int) {
        operational.withLock { $0.waiting += change }
    }

    public func operationalEventsDropped(_ count: Int) {
        operational.withLock { $0.dropped += count }
    }

    /// Counts one ingest request's accepted and rejected events.
    public func ingested(source: String, accepted: Int, rejected: Int) {
        sources.withLock { sources in
            sources[source, default: SourceCounters()].ingested += accepted
            sources[source, default: SourceCounters()].rejected += rejected
        }
    }

    /// Counts one ingest response by status.
    public func ingestResponse(status: Int) {
        ingestStatuses.withLock { $0[status, default: 0] += 1 }
    }

    /// Records the configuration loaded at start.
    public func started(generation: Int) {
        process.withLock { $0.generation = generation }
    }

    /// Counts a configuration reload; `generation` is the configuration now running.
    public func reloaded(succeeded: Bool, generation: Int) {
        process.withLock { process in
            if succeeded { process.reloadsSucceeded += 1 } else { process.reloadsFailed += 1 }
            process.generation = generation
        }
    }

    /// What the scrape adds from outside the counters.
    public struct Snapshot: Sendable {
        /// Queue depth and failed count per sink, from the store; `nil` if it could not be read.
        public var outbox: [OutboxGauge]?
        /// Group-commit totals of HTTP ingest.
        public var commits: (transactions: Int, deliveries: Int, requests: Int)
        /// Whether the process is ready.
        public var ready: Bool
        /// Runners delivering: the current configuration plus older ones still draining.
        public var runners: Int
        /// Each sink's stored health state, from the store; `nil` if it could not be read. Sinks
        /// without one are healthy.
        public var sinkStates: [SinkState]?

        /// Makes a snapshot from its parts.
        public init(
            outbox: [OutboxGauge]?, commits: (transactions: Int, deliveries: Int, requests: Int), ready: Bool, runners: Int,
            sinkStates: [SinkState]? = nil
        ) {
            self.outbox = outbox
            self.commits = commits
            self.ready = ready
            self.runners = runners
            self.sinkStates = sinkStates
        }
    }

    /// The whole exposition.
    public func render(_ snapshot: Snapshot) -> String {
        var out = PrometheusText()
        out.family("loyali_hooks_build_info", type: "gauge", help: "Always 1; the version is a label.")
        out.sample("loyali_hooks_build_info", [("version", LoyaliHooksVersion.current)], 1)
        out.family("loyali_hooks_ready", type: "gauge", help: "1 once the store is open and pipelines are loaded.")
        out.sample("loyali_hooks_ready", snapshot.ready ? 1 : 0)

        let sources = sources.withLock { $0 }.sorted { $0.key < $1.key }
        out.family("loyali_hooks_events_ingested_total", type: "counter", help: "Events accepted by HTTP ingest, per source.")
        for (source, counters) in sources { out.sample("loyali_hooks_events_ingested_total", [("source", source)], counters.ingested) }
        out.family("loyali_hooks_events_rejected_total", type: "counter", help: "Events rejected by HTTP ingest (bad JSON or contract), per source.")
        for (source, counters) in sources { out.sample("loyali_hooks_events_rejected_total", [("source", source)], counters.rejected) }
        let statuses = ingestStatuses.withLock { $0 }.sorted { $0.key < $1.key }
        out.family("loyali_hooks_ingest_responses_total", type: "counter", help: "HTTP ingest responses by status code.")
        for (status, count) in statuses { out.sample("loyali_hooks_ingest_responses_total", [("code", String(status))], count) }
        out.family("loyali_hooks_ingest_commits_total", type: "counter", help: "Store transactions written by the ingest group commit.")
        out.sample("loyali_hooks_ingest_commits_total", snapshot.commits.transactions)
        out.family("loyali_hooks_ingest_committed_deliveries_total", type: "counter", help: "Deliveries written by the ingest group commit.")
        out.sample("loyali_hooks_ingest_committed_deliveries_total", snapshot.commits.deliveries)
        out.family("loyali_hooks_ingest_committed_requests_total", type: "counter", help: "Ingest requests answered by the group commit.")
        out.sample("loyali_hooks_ingest_committed_requests_total", snapshot.commits.requests)

        let sinks = sinks.withLock { $0 }.sorted { $0.key < $1.key }
        out.family("loyali_hooks_deliveries_total", type: "counter", help: "Deliveries finished, by pipeline, sink and outcome (succeeded or failed after the last retry).")
        for (key, counters) in sinks {
            out.sample("loyali_hooks_deliveries_total", [("pipeline", key.pipeline), ("sink", key.sink), ("outcome", "succeeded")], counters.succeeded)
            out.sample("loyali_hooks_deliveries_total", [("pipeline", key.pipeline), ("sink", key.sink), ("outcome", "failed")], counters.failed)
        }
        out.family("loyali_hooks_retries_total", type: "counter", help: "Failed attempts that scheduled a retry, by pipeline and sink.")
        for (key, counters) in sinks {
            out.sample("loyali_hooks_retries_total", [("pipeline", key.pipeline), ("sink", key.sink)], counters.retries)
        }
        out.family("loyali_hooks_attempt_duration_seconds", type: "histogram", help: "Duration of delivery attempts, by pipeline and sink.")
        for (key, counters) in sinks {
            let labels = [("pipeline", key.pipeline), ("sink", key.sink)]
            var cumulative = 0
            for (index, bound) in Self.latencyBuckets.enumerated() {
                cumulative += counters.buckets[index]
                out.sample("loyali_hooks_attempt_duration_seconds_bucket", labels + [("le", PrometheusText.format(bound))], cumulative)
            }
            out.sample("loyali_hooks_attempt_duration_seconds_bucket", labels + [("le", "+Inf")], counters.attempts)
            out.sample("loyali_hooks_attempt_duration_seconds_sum", labels, counters.sumSeconds)
            out.sample("loyali_hooks_attempt_duration_seconds_count", labels, counters.attempts)
        }

        if let outbox = snapshot.outbox {
            // Sinks of the configuration with nothing queued read 0 rather than disappearing.
            var gauges: [SinkKey: OutboxGauge] = [:]
            for (key, _) in sinks { gauges[key] = OutboxGauge(pipeline: key.pipeline, sink: key.sink, waiting: 0, failed: 0) }
            for gauge in outbox { gauges[SinkKey(pipeline: gauge.pipeline, sink: gauge.sink)] = gauge }
            let sorted = gauges.sorted { $0.key < $1.key }
            out.family("loyali_hooks_queue_depth", type: "gauge", help: "Deliveries pending or retrying in the store, by pipeline and sink.")
            for (key, gauge) in sorted { out.sample("loyali_hooks_queue_depth", [("pipeline", key.pipeline), ("sink", key.sink)], gauge.waiting) }
            out.family("loyali_hooks_failed_deliveries", type: "gauge", help: "Deliveries in the failed state in the store (resendable), by pipeline and sink.")
            for (key, gauge) in sorted { out.sample("loyali_hooks_failed_deliveries", [("pipeline", key.pipeline), ("sink", key.sink)], gauge.failed) }
        }

        if let stored = snapshot.sinkStates {
            // Every sink of the configuration has a state: healthy unless the store says otherwise.
            var states: [SinkKey: SinkState] = [:]
            for (key, _) in sinks { states[key] = SinkState(pipeline: key.pipeline, sink: key.sink) }
            for state in stored { states[SinkKey(pipeline: state.pipeline, sink: state.sink)] = state }
            let sorted = states.sorted { $0.key < $1.key }
            out.family(
                "loyali_hooks_sink_state", type: "gauge",
                help: "1 for the state each sink is in (healthy, paused: its circuit is open and deliveries wait; disabled: nothing is sent until it is enabled), 0 for the others.")
            for (key, state) in sorted {
                for status in SinkState.Status.allCases {
                    out.sample("loyali_hooks_sink_state", [("pipeline", key.pipeline), ("sink", key.sink), ("state", status.rawValue)], state.status == status ? 1 : 0)
                }
            }
            out.family("loyali_hooks_sink_consecutive_failures", type: "gauge", help: "Failed attempts since the sink's last success, as last stored.")
            for (key, state) in sorted {
                out.sample("loyali_hooks_sink_consecutive_failures", [("pipeline", key.pipeline), ("sink", key.sink)], state.consecutiveFailures)
            }
        }
        let changes = sinkChanges.withLock { $0 }.sorted { $0.key < $1.key }
        out.family("loyali_hooks_sink_state_changes_total", type: "counter", help: "Sink health transitions this process announced, by the state entered.")
        for (key, counts) in changes {
            for status in SinkState.Status.allCases where counts[status] != nil {
                out.sample("loyali_hooks_sink_state_changes_total", [("pipeline", key.pipeline), ("sink", key.sink), ("state", status.rawValue)], counts[status] ?? 0)
            }
        }

        let failures = storeWriteFailures.withLock { $0 }.sorted { $0.key < $1.key }
        out.family("loyali_hooks_store_write_failures_total", type: "counter", help: "Store calls that failed (disk full, I/O error, database down), by operation: enqueue, record or claim.")
        for (operation, count) in failures { out.sample("loyali_hooks_store_write_failures_total", [("operation", operation)], count) }

        let operational = operational.withLock { $0 }
        out.family(
            "loyali_hooks_operational_events_waiting", type: "gauge",
            help: "Operational events the store refused, kept in memory and tried again until it takes them.")
        out.sample("loyali_hooks_operational_events_waiting", operational.waiting)
        out.family(
            "loyali_hooks_operational_events_dropped_total", type: "counter",
            help: "Operational events given up: more waited for the store than are kept, or the process stopped while the store refused them.")
        out.sample("loyali_hooks_operational_events_dropped_total", operational.dropped)

        let process = process.withLock { $0 }
        out.family("loyali_hooks_config_reloads_total", type: "counter", help: "Configuration reloads by result.")
        out.sample("loyali_hooks_config_reloads_total", [("result", "success")], process.reloadsSucceeded)
        out.sample("loyali_hooks_config_reloads_total", [("result", "failure")], process.reloadsFailed)
        out.family("loyali_hooks_config_generation", type: "gauge", help: "The configuration running now; 1 at start, +1 per successful reload.")
        out.sample("loyali_hooks_config_generation", process.generation)
        out.family("loyali_hooks_runners", type: "gauge", help: "Delivery runners: the current configuration plus older ones finishing their queued deliveries.")
        out.sample("loyali_hooks_runners", snapshot.runners)
        return out.text
    }
}
