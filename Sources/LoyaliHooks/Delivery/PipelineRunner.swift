import Foundation

/// Reads each distinct source once, fans every event out to the pipelines that subscribe to it,
/// and delivers (or, in a dry run, prints) each pipeline's sinks.
///
/// Lines are cut into batches; in a dry run batches are planned, signed and rendered on all cores
/// while this thread keeps reading and writing, and output is written in input order, so the
/// result is byte-for-byte what a single thread would print. Real deliveries use one worker so file and
/// stdout sinks keep input order. Everything runs on the caller's thread and on Dispatch's
/// worker threads, never on Swift's cooperative pool, because it blocks on file I/O.
public final class PipelineRunner {
    /// How a run behaves.
    public struct Options: Sendable {
        /// Print what would be sent instead of sending.
        public var dryRun = true
        /// Dry-run output format.
        public var format = DryRunPrinter.Format.human
        /// Dry run: indent the bodies of deliveries shown in full (labelled as not the signed bytes).
        public var pretty = false
        /// Read this stream for every pipeline instead of their own sources.
        public var input: InputStream?
        /// Unix seconds to sign with (and to stamp events lacking `created_at`); `nil` = now.
        public var timestamp: Int64?
        /// Where to keep rejected lines, as JSON lines.
        public var rejectsPath: String?
        /// Worker threads for dry runs; defaults to the number of active cores.
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        /// Lines per batch, at most.
        public var batchSize = 2_048
        /// Output bytes one batch should plan, about: batches are cut by bytes as well as by
        /// lines, so memory stays bounded however many pipelines and sinks each event fans out to.
        public var batchOutputBytes = 4 << 20

        public init() {}
    }

    private let pipelines: [PipelineDefinition]
    private let options: Options
    private let output: OutputBuffer
    private let log: (String) -> Void
    private let rejects: FileAppender?
    /// The `human` form's delivery to show in full once every short line is out.
    private var featured: BatchWorker.Featured?
    /// The `human` form's column titles, written above the first short line.
    private var pendingTitles: String?
    /// Sizes batches by the output per input line seen so far.
    private var sizer: BatchSizer
    /// For each batch submitted and not finished, in order: how many batches had finished when it
    /// was submitted, i.e. the oldest batch held beside it.
    private var heldSince = FIFOQueue<Int>()
    /// The output bytes of the batches finished last, as many as may be held at once.
    private var recentBytes = FIFOQueue<Int>()
    private var batchesFinished = 0
    /// The most output bytes that batches held at once, planned and not yet written (the bound
    /// a dry run keeps whatever the fan-out: about the workers × ``Options/batchOutputBytes``).
    public private(set) var peakBatchBytes = 0

    /// Creates a runner that prints to `output` and reports problems through `log` (stderr).
    public init(pipelines: [PipelineDefinition], options: Options, output: OutputBuffer, log: @escaping (String) -> Void) {
        self.pipelines = pipelines
        self.options = options
        self.output = output
        self.log = log
        self.rejects = options.rejectsPath.map(FileAppender.init(path:))
        self.sizer = BatchSizer(maxLines: options.batchSize, targetBytes: options.batchOutputBytes)
    }

    /// One stream and the pipelines that read it.
    public struct SourceGroup: Sendable {
        /// The source identity (or the `--input` name).
        public var identity: String
        /// The source to open; `nil` when `--input` replaces every source.
        public var source: (any EventSource)?
        /// Subscribers, in load order.
        public var pipelines: [PipelineDefinition]
    }

    /// The pipelines grouped by the stream they read, each stream once, in first-use order.
    public func sourceGroups() -> [SourceGroup] {
        if let input = options.input {
            return [SourceGroup(identity: input.name, source: nil, pipelines: pipelines)]
        }
        var groups: [SourceGroup] = []
        // By identity: thousands of pipelines may read as many files.
        var groupIndex: [String: Int] = [:]
        for pipeline in pipelines {
            if let i = groupIndex[pipeline.source.identity] {
                groups[i].pipelines.append(pipeline)
            } else {
                groupIndex[pipeline.source.identity] = groups.count
                groups.append(SourceGroup(identity: pipeline.source.identity, source: pipeline.source, pipelines: [pipeline]))
            }
        }
        return groups
    }

    private var printer: DryRunPrinter {
        DryRunPrinter(format: options.format, pretty: options.pretty, routeWidth: DryRunPrinter.routeWidth(for: pipelines))
    }

    /// Runs every source to its end. In the `human` dry-run form, one delivery (the first to an
    /// `http` sink, else the first) follows the short lines in full.
    public func run() -> RunSummary {
        var summary = RunSummary()
        featured = nil
        pendingTitles = options.dryRun ? printer.columnTitles : nil
        let now = options.timestamp ?? Int64(Date().timeIntervalSince1970)
        for group in sourceGroups() {
            let stream: InputStream
            do {
                stream = try group.source?.open() ?? options.input!
            } catch {
                log("error: \(error)")
                summary.failed += group.pipelines.reduce(0) { $0 + $1.sinks.count }
                continue
            }
            let worker = BatchWorker(
                planners: group.pipelines.map(DeliveryPlanner.init(pipeline:)),
                decoder: InputEventDecoder(ingestTime: RFC3339.format(unixSeconds: now)),
                printer: options.dryRun ? printer : nil,
                timestamp: now, sourceName: stream.name, showSource: options.input == nil)
            // Real deliveries keep input order for file and stdout sinks: one batch at a time.
            let depth = options.dryRun ? max(1, options.workers) * 2 : 1
            let pipeline = BatchPipeline(worker: worker, depth: depth)
            var limit = nextBatchLines()
            var batch = LineBatch(capacity: limit)
            do {
                try LineReader(stream).forEachLine { line in
                    batch.append(line)
                    if batch.count >= limit {
                        heldSince.append(batchesFinished)
                        pipeline.submit(batch, inFlight: sizer.batchesInFlight(depth: depth))
                        limit = nextBatchLines()
                        batch = LineBatch(capacity: limit)
                        while let result = pipeline.nextReady() { finish(result, summary: &summary) }
                    }
                    return true
                }
            } catch {
                log("error: \(error)")
                summary.failed += 1
            }
            heldSince.append(batchesFinished)
            pipeline.submit(batch, inFlight: sizer.batchesInFlight(depth: depth))
            while let result = pipeline.nextInOrder() { finish(result, summary: &summary) }
        }
        if let featured {
            let how = options.pretty ? "with its body indented" : "exactly as it would be sent"
            output.bytes += "\n── one delivery in full, \(how) (--full shows every delivery this way):\n".utf8
            output.bytes += featured.output
        }
        output.flush()
        if let problem = output.writeError { log("error: writing output: \(problem)") }
        return summary
    }

    /// Lines for the next batch: about ``Options/batchOutputBytes`` of output, at most
    /// ``Options/batchSize`` lines (see ``BatchSizer``).
    func nextBatchLines() -> Int { sizer.nextLines }

    /// Updates ``peakBatchBytes`` as a batch finishes: what it held with every batch submitted
    /// while it was unfinished, and the older ones still unwritten when it was submitted.
    private func noteHeld(bytes: Int) {
        let oldest = heldSince.popFirst() ?? batchesFinished
        recentBytes.append(bytes)
        batchesFinished += 1
        while recentBytes.count > batchesFinished - oldest { _ = recentBytes.popFirst() }
        peakBatchBytes = max(peakBatchBytes, recentBytes.elements.reduce(0, +))
    }

    /// Writes one batch's output, logs and rejects; called in input order.
    private func finish(_ result: BatchWorker.Result, summary: inout RunSummary) {
        sizer.record(lines: result.lines, bytes: result.output.count)
        noteHeld(bytes: result.output.count)
        do {
            if let titles = pendingTitles, !result.output.isEmpty {
                output.bytes += titles.utf8
                pendingTitles = nil
            }
            output.bytes += result.output
            output.flushIfFull()
            for line in result.logs { log(line) }
            for reject in result.rejects {
                do {
                    try rejects?.append(line: reject)
                } catch {
                    log("error: --rejects: \(error)")
                }
            }
            summary.add(result.summary)
            if let candidate = result.featured, featured.map({ !$0.isHTTP && candidate.isHTTP }) ?? true {
                featured = candidate
            }
        }
    }
}
