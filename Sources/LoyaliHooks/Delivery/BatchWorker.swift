/// Plans, signs and renders (or delivers) one ``LineBatch``. Holds only immutable state, so one
/// worker serves every thread of a window.
struct BatchWorker: Sendable {
    let planners: [DeliveryPlanner]
    let decoder: InputEventDecoder
    /// Set in a dry run: deliveries are rendered instead of sent.
    let printer: DryRunPrinter?
    let timestamp: Int64
    let sourceName: String
    /// Whether messages name the source (not needed when everything came from `--input`).
    let showSource: Bool

    /// What one batch produced.
    struct Result: Sendable {
        var output: [UInt8] = []
        var logs: [String] = []
        /// Rejected lines as JSON objects for `--rejects`.
        var rejects: [[UInt8]] = []
        var summary = RunSummary()
    }

    func process(_ batch: LineBatch) -> Result {
        var result = Result()
        result.output.reserveCapacity(batch.storage.count * 3)
        // Decode every line first, so each pipeline plans the whole batch at once (a plugin step
        // pipelines it); then report in input order, as a line-by-line run would.
        var decoded: [Decoded] = []
        var envelopes: [EventEnvelope] = []
        decoded.reserveCapacity(batch.count)
        envelopes.reserveCapacity(batch.count)
        batch.forEach { bytes, entry in
            if entry.isTooLong {
                reject(InputRejection(line: entry.number, reason: "line longer than \(LineReader.defaultMaxLineBytes) bytes"),
                       raw: bytes, into: &result, decoded: &decoded)
                return
            }
            if Self.isBlank(bytes) { return }
            result.summary.eventsRead += 1
            do throws(InputRejection) {
                envelopes.append(try decoder.decode(bytes, number: entry.number))
                decoded.append(.event(envelopes.count - 1))
            } catch {
                reject(error, raw: bytes, into: &result, decoded: &decoded)
            }
        }
        let plans = planners.map { $0.plan(batch: envelopes) }
        for item in decoded {
            switch item {
            case .rejected(let log):
                result.logs.append(log)
            case .event(let index):
                for (planner, plans) in zip(planners, plans) {
                    deliver(plans[index], envelope: envelopes[index], planner: planner, into: &result)
                }
            }
        }
        return result
    }

    /// One line of a batch after decoding, in input order.
    private enum Decoded {
        /// The index of its envelope.
        case event(Int)
        /// The rejection's log line.
        case rejected(String)
    }

    private func deliver(_ plan: DeliveryPlanner.Plan, envelope: EventEnvelope, planner: DeliveryPlanner, into result: inout Result) {
        switch plan {
        case .notSubscribed:
            return
        case .dropped:
            result.summary.dropped += 1
        case .failed(let failure):
            result.summary.failed += planner.pipeline.sinks.count
            result.logs.append("error: pipeline '\(planner.pipeline.name)': event \(envelope.eventID): \(failure)")
        case .deliver(let transformed, let encoder):
            for sink in planner.pipeline.sinks {
                let request = planner.request(
                    for: sink, envelope: transformed, encoder: encoder, attempt: 1, timestamp: timestamp,
                    forDisplay: printer != nil)
                if let printer {
                    printer.print(request, sink: sink, to: &result.output)
                    result.summary.delivered += 1
                    continue
                }
                do {
                    try sink.sink.deliver(request)
                    result.summary.delivered += 1
                } catch {
                    result.summary.failed += 1
                    result.logs.append("error: \(request.pipeline)/\(request.sink) \(request.deliveryID): \(error)")
                }
            }
        }
    }

    private func reject(
        _ rejection: InputRejection, raw: UnsafeBufferPointer<UInt8>, into result: inout Result, decoded: inout [Decoded]
    ) {
        result.summary.rejected += 1
        let column = rejection.column.map { " at column \($0)" } ?? ""
        let origin = showSource ? " (\(sourceName))" : ""
        decoded.append(.rejected("input:\(rejection.line): \(rejection.reason)\(column)\(origin)"))
        var line: [UInt8] = Array(#"{"source":"#.utf8)
        JSONValue.appendJSONString(sourceName, to: &line)
        line += #","line":"#.utf8
        line += String(rejection.line).utf8
        line += #","reason":"#.utf8
        JSONValue.appendJSONString(rejection.reason + column, to: &line)
        line += #","raw":"#.utf8
        JSONValue.appendJSONString(String(decoding: raw, as: UTF8.self), to: &line)
        line.append(UInt8(ascii: "}"))
        result.rejects.append(line)
    }

    private static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
