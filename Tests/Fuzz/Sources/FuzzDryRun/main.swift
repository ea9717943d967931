#if canImport(Glibc)
import Glibc
#endif
import FuzzSupport
import LoyaliHooks

// The in-process dry-run (`run --input - --dry-run`, as `--json` and as `--full`) over arbitrary
// event lines, through two pipelines, one per signature scheme. Never a crash, and of what it
// prints in either form:
// - one record per delivery counted, with the exact signed body;
// - every signature verifies against the printed body with the pipeline's secrets;
// - the delivery id is the same in the header, the record and the body;
// - no secret's value appears in the output or the log;
// - a redacted field is never sent in clear (a repeated key once left its first copy unredacted).
enum Target {
    static let timestamp: Int64 = 1_700_000_000
    static let pipelineText = [
        "rewards.yaml": """
            pipeline: rewards
            source: { type: file, path: "${LOYALI_EVENTS}" }
            filter:
              events: [points.earned, redemption.created, tier.upgraded, customer.created]
            transform:
              - redact: [data.customer_email, data.email]
              - remove: [data.name]
              - rename: { data.customer_id: data.member }
              - set: { data.channel: push }
            sign:
              secrets: ["${FUZZ_SECRET}", "${FUZZ_SECRET_PREVIOUS}"]
            sinks:
              hook:
                type: http
                url: https://hooks.example.com/loyali
              audit: { type: file, path: /nonexistent/fuzz-audit.jsonl }
            """,
        "sync.yaml": """
            pipeline: sync
            source: { type: file, path: "${LOYALI_EVENTS}" }
            filter:
              events: ["*"]
            transform:
              - pick: [data.customer_id, data.tier, data.points_balance, data.amount]
            sign:
              scheme: standard-webhooks
              secrets: ["${FUZZ_OTHER_SECRET}"]
            sinks:
              profiles: { type: http, url: "https://api.example.com/sync" }
              out: { type: stdout }
            """,
    ]
    static let pipelines: [PipelineDefinition] = {
        let loader = PipelineLoader(environment: FuzzSecrets.environment, registry: .builtIn)
        return pipelineText.keys.sorted().map { file in
            let (loaded, diagnostics) = loader.load(file: file, text: pipelineText[file]!)
            guard let (pipeline, _) = loaded else { fail("fuzz pipeline does not load: \(diagnostics)") }
            return pipeline
        }
    }()
    static let loyali = LoyaliSignatureVerifier(
        secrets: [WebhookSecret(FuzzSecrets.current), WebhookSecret(FuzzSecrets.previous)], tolerance: 300)
    static let standard = try! StandardWebhooksVerifier(secrets: [WebhookSecret(FuzzSecrets.other)], tolerance: 300)
    static let secretValues = [FuzzSecrets.current, FuzzSecrets.previous, FuzzSecrets.other]
    static let redactedKeys = ["customer_email", "email"]
    /// An unlinked temporary file the runner's OutputBuffer writes to.
    static let outputDescriptor: Int32 = {
        var template = Array("/tmp/loyali-fuzz-dry-run.XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { fail("mkstemp failed") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        return fd
    }()
}

/// Collects the runner's log lines; the runner calls its log on the calling thread only.
final class LogLines {
    var lines: [String] = []
}

/// Reads back what the runner wrote and empties the file for the next input.
func takeOutput() -> [UInt8] {
    let fd = Target.outputDescriptor
    let size = Int(lseek(fd, 0, SEEK_END))
    var bytes = [UInt8](repeating: 0, count: size)
    var offset = 0
    while offset < size {
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + offset, size - offset, off_t(offset)) }
        guard n > 0 else { fail("reading the dry-run output back failed") }
        offset += n
    }
    _ = ftruncate(fd, 0)
    _ = lseek(fd, 0, SEEK_SET)
    return bytes
}

/// Checks one delivery as printed: the id agrees everywhere, the signature verifies against the
/// exact body and a redacted field is not in clear. `text` is what was printed, for the message.
func checkDelivery(
    pipeline: String, isHTTP: Bool, deliveryID: String, header: (String) -> String?, body: [UInt8], text: String
) {
    require(header("X-Loyali-Delivery") == deliveryID, "X-Loyali-Delivery differs from the delivery id: \(text)")
    guard let envelope = (try? JSONParser.parse(body))?.objectValue else { fail("body is not a JSON object: \(text)") }
    require(envelope["id"] == .string(deliveryID), "body id differs from the delivery id: \(text)")
    switch pipeline {
    case "rewards":
        guard let signature = header(LoyaliSignatureScheme.headerName) else {
            require(!isHTTP, "unsigned http delivery: \(text)")
            return
        }
        do throws(SignatureVerificationError) {
            try Target.loyali.verify(header: signature, body: body, now: Target.timestamp)
        } catch {
            fail("printed X-Loyali-Signature does not verify (\(error)): \(text)")
        }
        if let data = envelope["data"]?.objectValue {
            for member in data.members where Target.redactedKeys.contains(member.key) {
                require(member.value == .string("[REDACTED]"), "'\(member.key)' sent in clear: \(text)")
            }
        }
    case "sync":
        guard let id = header(StandardWebhooksScheme.idHeaderName),
            let timestamp = header(StandardWebhooksScheme.timestampHeaderName),
            let signature = header(StandardWebhooksScheme.signatureHeaderName)
        else {
            require(!isHTTP, "unsigned http delivery: \(text)")
            return
        }
        do throws(SignatureVerificationError) {
            try Target.standard.verify(id: id, timestamp: timestamp, signatureHeader: signature, body: body, now: Target.timestamp)
        } catch {
            fail("printed webhook-signature does not verify (\(error)): \(text)")
        }
    default:
        fail("delivery for an unknown pipeline: \(text)")
    }
}

/// `--json`: one record per line.
func checkJSONOutput(_ printed: [UInt8], delivered: Int) {
    let lines = printed.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    require(lines.last?.isEmpty ?? true, "output does not end in a newline")
    let records = lines.dropLast()
    require(records.count == delivered, "\(delivered) deliveries counted, \(records.count) printed with --json")
    for line in records {
        let text = String(decoding: line, as: UTF8.self)
        guard let record = (try? JSONParser.parse(Array(line)))?.objectValue,
            case .string(let pipeline)? = record["pipeline"],
            case .string(let sinkType)? = record["sink_type"],
            case .string(let deliveryID)? = record["delivery_id"],
            let headers = record["headers"]?.objectValue,
            case .string(let bodyText)? = record["body"]
        else { fail("dry-run printed a line that is not a delivery record: \(text)") }
        checkDelivery(
            pipeline: pipeline, isHTTP: sinkType == "http", deliveryID: deliveryID,
            header: { headers[$0]?.stringValue }, body: Array(bodyText.utf8), text: text)
    }
}

/// `--full`: per delivery a title `── pipeline → sink (kind) · type · id`, the request line, the
/// headers, a blank line, the exact body on one line (compact JSON has no raw line break), a blank line.
func checkFullOutput(_ printed: [UInt8], delivered: Int) {
    let lines = printed.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    var index = 0
    var blocks = 0
    while index < lines.count {
        guard lines[index].hasPrefix("── ") else {
            require(lines[index].isEmpty, "unexpected line in --full output: \(lines[index])")
            index += 1
            continue
        }
        let title = lines[index]
        guard index + 1 < lines.count, let arrow = title.range(of: " → ") else { fail("bad title: \(title)") }
        let pipeline = title[title.index(title.startIndex, offsetBy: 3)..<arrow.lowerBound].trimmingCharacters(in: " ")
        let deliveryID = String(title.split(separator: " ").last ?? "")
        let isHTTP = lines[index + 1].hasPrefix("POST ")
        var headers: [String: String] = [:]
        index += 2
        while index < lines.count, !lines[index].isEmpty {
            guard let colon = lines[index].range(of: ": ") else { fail("bad header line: \(lines[index])") }
            headers[String(lines[index][..<colon.lowerBound])] = String(lines[index][colon.upperBound...])
            index += 1
        }
        guard index + 1 < lines.count else { fail("--full block without a body: \(title)") }
        let body = lines[index + 1]
        checkDelivery(
            pipeline: pipeline, isHTTP: isHTTP, deliveryID: deliveryID, header: { headers[$0] },
            body: Array(body.utf8), text: title + "\n" + body)
        blocks += 1
        index += 2
    }
    require(blocks == delivered, "\(delivered) deliveries counted, \(blocks) printed with --full")
}

extension StringProtocol {
    /// Without leading and trailing `character`s (the route column is padded with spaces).
    func trimmingCharacters(in character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}

/// Runs the dry-run over `input` in `format` and returns what it printed, its count and its log.
func dryRun(_ input: [UInt8], format: DryRunPrinter.Format) -> (printed: [UInt8], delivered: Int, log: [String]) {
    var options = PipelineRunner.Options()
    options.dryRun = true
    options.format = format
    options.input = .bytes(input, name: "input")
    options.timestamp = Target.timestamp
    options.workers = 1
    options.batchSize = 3  // small batches, so fuzzed inputs cross batch boundaries
    let log = LogLines()
    let output = OutputBuffer(descriptor: Target.outputDescriptor, flushThreshold: 1 << 16)
    let summary = PipelineRunner(pipelines: Target.pipelines, options: options, output: output) { log.lines.append($0) }
        .run()
    return (takeOutput(), summary.delivered, log.lines)
}

runFuzzer { data, size in
    let input = Array(fuzzBytes(data, size))
    let json = dryRun(input, format: .json)
    checkJSONOutput(json.printed, delivered: json.delivered)
    let full = dryRun(input, format: .full)
    checkFullOutput(full.printed, delivered: full.delivered)
    require(full.delivered == json.delivered, "--full and --json count different deliveries")
    for (printed, log) in [(json.printed, json.log), (full.printed, full.log)] {
        let everything = String(decoding: printed, as: UTF8.self) + log.joined(separator: "\n")
        for secret in Target.secretValues where !String(decoding: input, as: UTF8.self).contains(secret) {
            require(!everything.contains(secret), "a secret's value is printed")
        }
    }
    return 0
}
