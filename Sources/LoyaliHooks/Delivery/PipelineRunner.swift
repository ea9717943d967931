import Foundation

/// Reads each distinct source once, fans every event out to the pipelines that subscribe to it,
/// and delivers (or, in a dry run, prints) each pipeline's sinks.
///
/// Blocking file reads and writes happen on the caller's thread; the CLI calls this from the main
/// thread, never from Swift's cooperative pool.
public final class PipelineRunner {
    /// How a run behaves.
    public struct Options: Sendable {
        /// Print what would be sent instead of sending.
        public var dryRun = true
        /// Dry-run output format.
        public var format = DryRunPrinter.Format.human
        /// Read this stream for every pipeline instead of their own sources.
        public var input: InputStream?
        /// Unix seconds to sign with (and to stamp events lacking `created_at`); `nil` = now.
        public var timestamp: Int64?
        /// Where to keep rejected lines, as JSON lines.
        public var rejectsPath: String?

        public init() {}
    }

    private let pipelines: [PipelineDefinition]
    private let options: Options
    private let output: OutputBuffer
    private let log: (String) -> Void
    private var rejects: FileAppender?

    /// Creates a runner that prints to `output` and reports problems through `log` (stderr).
    public init(pipelines: [PipelineDefinition], options: Options, output: OutputBuffer, log: @escaping (String) -> Void) {
        self.pipelines = pipelines
        self.options = options
        self.output = output
        self.log = log
        self.rejects = options.rejectsPath.map(FileAppender.init(path:))
    }

    /// The pipelines grouped by the stream they read, each stream once, in first-use order.
    public func sourceGroups() -> [(source: String, input: () throws(SourceError) -> InputStream, pipelines: [PipelineDefinition])] {
        if let input = options.input {
            return [(input.name, { input }, pipelines)]
        }
        var order: [String] = []
        var groups: [String: [PipelineDefinition]] = [:]
        for pipeline in pipelines {
            let identity = pipeline.source.identity
            if groups[identity] == nil { order.append(identity) }
            groups[identity, default: []].append(pipeline)
        }
        return order.map { identity in
            let members = groups[identity]!
            let source = members[0].source
            return (identity, { () throws(SourceError) -> InputStream in try source.open() }, members)
        }
    }

    /// Runs every source to its end.
    public func run() -> RunSummary {
        var summary = RunSummary()
        let now = options.timestamp ?? Int64(Date().timeIntervalSince1970)
        let decoder = InputEventDecoder(ingestTime: RFC3339.format(unixSeconds: now))
        let printer = DryRunPrinter(format: options.format)
        for group in sourceGroups() {
            let stream: InputStream
            do {
                stream = try group.input()
            } catch {
                log("error: \(error)")
                summary.failed += group.pipelines.reduce(0) { $0 + $1.sinks.count }
                continue
            }
            let planners = group.pipelines.map(DeliveryPlanner.init(pipeline:))
            let sourceName = stream.name
            do {
                try LineReader(stream).forEachLine { line in
                    if line.isTooLong {
                        reject(InputRejection(line: line.number, reason: "line longer than \(LineReader.defaultMaxLineBytes) bytes"),
                               raw: line.bytes, source: sourceName, summary: &summary)
                        return true
                    }
                    if Self.isBlank(line.bytes) { return true }
                    summary.eventsRead += 1
                    let envelope: EventEnvelope
                    do throws(InputRejection) {
                        envelope = try decoder.decode(line.bytes, number: line.number)
                    } catch {
                        reject(error, raw: line.bytes, source: sourceName, summary: &summary)
                        return true
                    }
                    for planner in planners {
                        deliver(envelope, planner: planner, now: now, printer: printer, summary: &summary)
                    }
                    return true
                }
            } catch {
                log("error: \(error)")
                summary.failed += 1
            }
        }
        output.flush()
        if let problem = output.writeError { log("error: writing output: \(problem)") }
        return summary
    }

    private func deliver(
        _ envelope: EventEnvelope, planner: DeliveryPlanner, now: Int64, printer: DryRunPrinter, summary: inout RunSummary
    ) {
        switch planner.plan(envelope) {
        case .notSubscribed:
            return
        case .dropped:
            summary.dropped += 1
        case .failed(let failure):
            summary.failed += planner.pipeline.sinks.count
            log("error: pipeline '\(planner.pipeline.name)': event \(envelope.eventID): \(failure)")
        case .deliver(let transformed, let encoder):
            for sink in planner.pipeline.sinks {
                let request = planner.request(
                    for: sink, envelope: transformed, encoder: encoder, attempt: 1, timestamp: now, forDisplay: options.dryRun)
                if options.dryRun {
                    printer.print(request, sink: sink, to: output)
                    summary.delivered += 1
                    continue
                }
                do {
                    try sink.sink.deliver(request)
                    summary.delivered += 1
                } catch {
                    summary.failed += 1
                    log("error: \(request.pipeline)/\(request.sink) \(request.deliveryID): \(error)")
                }
            }
        }
    }

    private func reject(_ rejection: InputRejection, raw: UnsafeBufferPointer<UInt8>, source: String, summary: inout RunSummary) {
        summary.rejected += 1
        let origin = options.input == nil || source != "input" ? " (\(source))" : ""
        let column = rejection.column.map { " at column \($0)" } ?? ""
        log("input:\(rejection.line): \(rejection.reason)\(column)\(origin)")
        guard let rejects else { return }
        var line: [UInt8] = Array(#"{"source":"#.utf8)
        JSONValue.appendJSONString(source, to: &line)
        line += #","line":"#.utf8
        line += String(rejection.line).utf8
        line += #","reason":"#.utf8
        JSONValue.appendJSONString(rejection.reason + column, to: &line)
        line += #","raw":"#.utf8
        JSONValue.appendJSONString(String(decoding: raw, as: UTF8.self), to: &line)
        line.append(UInt8(ascii: "}"))
        do {
            try rejects.append(line: line)
        } catch {
            log("error: --rejects: \(error)")
        }
    }

    private static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
