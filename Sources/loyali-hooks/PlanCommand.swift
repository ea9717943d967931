import Foundation
import LoyaliHooks

/// `loyali-hooks plan PIPELINE [PATH…] [--sink NAME]… [--now T] [--json]`: each sink's retry timeline.
enum PlanCommand {
    static let usage = """
        USAGE: loyali-hooks plan PIPELINE [PATH…] [--sink NAME]… [--now T] [--json]

        Shows when each sink of PIPELINE would attempt a delivery created now, if every attempt
        failed: the retry schedule as a table of attempts with their delay and the total since the
        delivery was created, in cumulative and absolute time; the jitter bounds of each delay; the
        latest time the last attempt can happen; and what happens after it. PIPELINE is a pipeline
        name, found in PATH (default: pipelines/), or a pipeline file. No secret needs to be set.

        The first attempt is due at the schedule's first delay, without jitter. Each later delay
        starts when the attempt before it ends, so the latest times count every attempt as taking
        the sink's whole timeout, with jitter at its longest. A receiver's Retry-After on 429/503 can
        stretch each wait up to max_retry_after; that bound is shown too.

        OPTIONS:
          --sink NAME        only this sink; repeat for several
          --now T            plan from unix time T instead of now
          --json             one JSON object per sink
        EXAMPLES:
          loyali-hooks plan notifications
          loyali-hooks plan pipelines/fulfillment.yaml --sink warehouse --json
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: ["--sink", "--now"], flags: ["--json"])
        guard let name = args.positionals.first else { throw .usage("plan needs a PIPELINE name or file") }
        let now = try args.unixTime("--now") ?? Terminal.now
        let paths = Array(args.positionals.dropFirst())
        let isFile = name.contains("/") || name.hasSuffix(".yaml") || name.hasSuffix(".yml")
        let loader = PipelineLoader.offline(
            paths: isFile ? [name] : (paths.isEmpty ? ["pipelines"] : paths), environment: ProcessInfo.processInfo.environment)
        var pipeline = try PipelineArgument.pipeline(name, paths: paths, loader: loader, lookup: "plan NAME")
        let names = args.all("--sink")
        for sinkName in names where !pipeline.sinks.contains(where: { $0.name == sinkName }) {
            throw .usage("pipeline '\(pipeline.name)' has no sink '\(sinkName)'\(Suggestion.didYouMean(sinkName, in: pipeline.sinks.map(\.name))); its sinks: \(pipeline.sinkList)")
        }
        if !names.isEmpty { pipeline = pipeline.keepingSinks(Set(names)) }
        if args.has("--json") {
            for sink in pipeline.sinks { Terminal.out(json(sink, pipeline: pipeline, now: now).serializedString) }
            return
        }
        Terminal.out("pipeline \(pipeline.name) (\(pipeline.file)): a delivery created at \(RFC3339.format(unixSeconds: now)), every attempt failing")
        for sink in pipeline.sinks { Terminal.out("\n" + text(sink, now: now)) }
    }

    /// The absolute time `ms` after `now`, to the second (rounded up: never earlier than it can be).
    static func at(_ now: Int64, plus ms: Int64) -> String {
        RFC3339.format(unixSeconds: now.saturatingAdd(ms / 1_000 + (ms % 1_000 > 0 ? 1 : 0)))
    }

    static func policyText(_ sink: SinkDefinition, timeline: RetryTimeline) -> String {
        let policy = sink.retry
        var parts = ["schedule [" + policy.schedule.map(\.configDescription).joined(separator: ", ") + "]"]
        parts.append("jitter " + (policy.jitter > 0 ? percent(policy.jitter) : "none"))
        parts.append("max_retry_after \(policy.maxRetryAfter.configDescription)")
        if timeline.attemptTimeoutMs > 0 { parts.append("timeout \(RetryTimeline.text(ms: timeline.attemptTimeoutMs)) per attempt") }
        return parts.joined(separator: ", ")
    }

    static func percent(_ fraction: Double) -> String {
        let value = fraction * 100
        return (value == value.rounded() ? String(Int(value)) : String(value)) + "%"
    }

    static func text(_ sink: SinkDefinition, now: Int64) -> String {
        let timeline = RetryTimeline(sink: sink)
        var lines = ["\(sink.name) (\(sink.sink.kind) \(sink.sink.target)): \(policyText(sink, timeline: timeline))"]
        let jittered = timeline.rows.contains { $0.delayRangeMs.lowerBound != $0.delayRangeMs.upperBound }
        let rows = timeline.rows.map { row -> [String] in
            let delay = row.attempt == 1 && row.delayMs == 0 ? "immediately" : RetryTimeline.text(ms: row.delayMs)
            let bounds = row.delayRangeMs.lowerBound == row.delayRangeMs.upperBound
                ? "" : "\(RetryTimeline.text(ms: row.delayRangeMs.lowerBound))–\(RetryTimeline.text(ms: row.delayRangeMs.upperBound))"
            return [String(row.attempt), delay] + (jittered ? [bounds] : []) + [
                RetryTimeline.text(ms: row.totalMs), at(now, plus: row.totalMs), at(now, plus: row.totalRangeMs.upperBound),
            ]
        }
        let titles = ["ATTEMPT", "DELAY"] + (jittered ? ["JITTER BOUNDS"] : []) + ["TOTAL", "AT", "LATEST"]
        let widths = titles.indices.map { column in ([titles] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [titles] + rows {
            lines.append("  " + zip(row, widths).map { $0.padding($1 + 1) }.joined(separator: " ").trimmingCharacters(in: .whitespaces))
        }
        let count = timeline.rows.count
        lines.append("  LATEST counts each earlier attempt as taking the whole timeout" + (jittered ? " and each delay at its longest jitter" : "") + ".")
        lines.append("  last attempt: by \(at(now, plus: timeline.latestMs)) (\(RetryTimeline.text(ms: timeline.latestMs)) after creation)"
            + (sink.sink.kind == "http" && timeline.latestWithRetryAfterMs > timeline.latestMs
                ? "; by \(at(now, plus: timeline.latestWithRetryAfterMs)) (\(RetryTimeline.text(ms: timeline.latestWithRetryAfterMs))) if every answer is 429/503 with a Retry-After of \(sink.retry.maxRetryAfter.configDescription) or more"
                : ""))
        lines.append("  after attempt \(count) fails: \(afterLast(count))")
        return lines.joined(separator: "\n")
    }

    static func afterLast(_ count: Int) -> String {
        "the delivery is marked failed and kept in the delivery log; nothing retries it until 'loyali-hooks resend ID' "
            + "(or resend --failed) queues a new round of \(Plural.count(count, "attempt")). "
            + "A 410 Gone, or an error that retrying cannot fix, fails it before its last attempt."
    }

    static func json(_ sink: SinkDefinition, pipeline: PipelineDefinition, now: Int64) -> JSONValue {
        let timeline = RetryTimeline(sink: sink)
        func number(_ value: Int64) -> JSONValue { .number(JSONNumber(value)) }
        var object = JSONObject()
        object["pipeline"] = .string(pipeline.name)
        object["sink"] = .string(sink.name)
        object["sink_type"] = .string(sink.sink.kind)
        object["target"] = .string(sink.sink.target)
        object["created_at"] = .string(RFC3339.format(unixSeconds: now))
        object["schedule"] = .array(sink.retry.schedule.map { .string($0.configDescription) })
        object["jitter"] = .number(JSONNumber(literal: String(sink.retry.jitter)))
        object["max_retry_after_ms"] = number(sink.retry.maxRetryAfter.totalMilliseconds)
        object["attempt_timeout_ms"] = number(timeline.attemptTimeoutMs)
        object["attempts"] = .array(timeline.rows.map { row in
            var item = JSONObject()
            item["attempt"] = number(Int64(row.attempt))
            item["delay_ms"] = number(row.delayMs)
            item["delay_min_ms"] = number(row.delayRangeMs.lowerBound)
            item["delay_max_ms"] = number(row.delayRangeMs.upperBound)
            item["total_ms"] = number(row.totalMs)
            item["total_min_ms"] = number(row.totalRangeMs.lowerBound)
            item["total_max_ms"] = number(row.totalRangeMs.upperBound)
            item["at"] = .string(at(now, plus: row.totalMs))
            item["latest_at"] = .string(at(now, plus: row.totalRangeMs.upperBound))
            return .object(item)
        })
        object["last_attempt_by"] = .string(at(now, plus: timeline.latestMs))
        object["last_attempt_by_ms"] = number(timeline.latestMs)
        // Only http sinks hear a Retry-After.
        if sink.sink.kind == "http" {
            object["last_attempt_by_with_retry_after"] = .string(at(now, plus: timeline.latestWithRetryAfterMs))
            object["last_attempt_by_with_retry_after_ms"] = number(timeline.latestWithRetryAfterMs)
        }
        object["after_last_attempt"] = .string(afterLast(timeline.rows.count))
        return .object(object)
    }
}
