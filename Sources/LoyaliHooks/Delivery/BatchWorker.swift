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
        /// Input lines in the batch.
        var lines = 0
        var output: [UInt8] = []
        var logs: [String] = []
        /// Rejected lines as JSON objects for `--rejects`.
        var rejects: [[UInt8]] = []
        var summary = RunSummary()
        /// In the `human` dry-run form: this batch's candidate to show in full, the first
        /// delivery to an `http` sink, else the first delivery.
        var featured: Featured?
    }

    /// One delivery rendered in full, and whether it goes to an `http` sink (preferred, since
    /// that is the signed request a receiver gets).
    struct Featured: Sendable {
        var output: [UInt8]
        var isHTTP: Bool
    }

    func process(_ batch: LineBatch) -> Result {
        var result = Result()
        result.lines = batch.entries.count
        result.output.reserveCapacity(batch.storage.count * 3)
        var envelopes: [EventEnvelope] = []
        // How many rejection messages come before each event.
        var rejectionsBefore: [Int] = []
        batch.forEach { bytes, entry in
            if entry.isTooLong {
                reject(InputRejection(line: entry.number, reason: "line longer than \(LineReader.defaultMaxLineBytes) bytes"),
                       raw: bytes, into: &result)
                return
            }
            if InputRejection.isBlank(bytes) { return }
            result.summary.eventsRead += 1
            let envelope: EventEnvelope
            do throws(InputRejection) {
                envelope = try decoder.decode(bytes, number: entry.number)
            } catch {
                reject(error, raw: bytes, into: &result)
                return
            }
            envelopes.append(envelope)
            rejectionsBefore.append(result.logs.count)
        }
        // Each pipeline plans the whole batch at once (a plugin step pipelines it); then every
        // event is delivered in input order, its messages placed among the rejections as a
        // line-by-line run would have.
        let plans = planners.map { $0.plan(batch: envelopes) }
        let rejections = result.logs
        result.logs = []
        var nextRejection = 0
        for index in envelopes.indices {
            result.logs += rejections[nextRejection..<rejectionsBefore[index]]
            nextRejection = rejectionsBefore[index]
            for (planner, plans) in zip(planners, plans) {
                deliver(plans[index], envelope: envelopes[index], planner: planner, into: &result)
            }
        }
        result.logs += rejections[nextRejection...]
        return result
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
                    let isHTTP = sink.sink.kind == "http"
                    if printer.format == .human, result.featured.map({ !$0.isHTTP && isHTTP }) ?? true {
                        var output: [UInt8] = []
                        printer.printFull(request, sink: sink, to: &output)
                        result.featured = Featured(output: output, isHTTP: isHTTP)
                    }
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

    private func reject(_ rejection: InputRejection, raw: UnsafeBufferPointer<UInt8>, into result: inout Result) {
        result.summary.rejected += 1
        result.logs.append(rejection.message(source: showSource ? sourceName : nil))
        result.rejects.append(rejection.record(source: sourceName, raw: raw))
    }
}
