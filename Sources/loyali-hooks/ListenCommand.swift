import Foundation
import LoyaliHooks
import Synchronization

/// `loyali-hooks listen`: a local webhook receiver that verifies and shows each delivery.
enum ListenCommand {
    static let usage = """
        USAGE: loyali-hooks listen [--port 8080] [--host 127.0.0.1] [(--secret S | --secret-env VAR)…]
                                   [--status CODE] [--fail-first N] [--delay D] [--tolerance 300] [--json]

        Receives webhooks on http://HOST:PORT/ (any path) and prints each as it arrives: time, event
        type, delivery id, attempt, the signature verdict (✅, or ❌ with the reason; X-Loyali-Signature
        and the Standard Webhooks headers are checked when present) and the pretty body. It answers
        as told, to rehearse failures and retries. Stop it with Ctrl-C.

        OPTIONS:
          --port N           port to listen on (default 8080; 0 picks a free one)
          --host H           address to listen on (default 127.0.0.1)
          --secret S         signing secret to verify with (repeat for rotation)
          --secret-env VAR   read a secret from an environment variable
          --status CODE      status to answer (default 200)
          --fail-first N     answer 500 to the first N attempts of every delivery, then --status
          --delay D          wait D before answering (e.g. 2s, to trip a sink's timeout; at most 1d)
          --tolerance S      allowed signature age in seconds (default 300)
          --json             one JSON object per webhook
        EXAMPLE (a full local journey; the example pipelines post here unless NOTIFY_URL etc. are set):
          loyali-hooks listen --secret-env NOTIFY_SECRET --secret-env FULFILLMENT_SECRET --secret-env SYNC_SECRET --fail-first 1 &
          loyali-hooks test notifications --event points.earned      # ❌ 500, then run it again: ✅ 200
          loyali-hooks run pipelines/ --drain                        # each webhook fails once, retried 10 s later
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(
            raw, options: ["--port", "--host", "--secret", "--secret-env", "--status", "--fail-first", "--delay", "--tolerance"],
            flags: ["--json"])
        guard args.positionals.isEmpty else { throw .usage("listen takes no arguments; unexpected '\(args.positionals[0])'") }
        let secrets = try Secrets.from(args, required: false)
        // Long-running: a closed output pipe must not end it (see StandardStream).
        StandardStream.ignoreBrokenPipes()
        let port = try args.integer("--port") ?? 8080
        guard (0...65_535).contains(port) else { throw .usage("--port must be from 0 to 65535") }
        let host = args.value("--host") ?? "127.0.0.1"
        guard ListenAddress("\(host.contains(":") ? "[\(host)]" : host):\(port)") != nil else {
            throw .usage("--host must be a numeric address or localhost, not '\(host)'")
        }
        var behavior = WebhookReceiver.Behavior()
        if let status = try args.integer("--status") {
            guard (200...599).contains(status) else { throw .usage("--status must be an HTTP status from 200 to 599") }
            behavior.status = Int(status)
        }
        if let failFirst = try args.integer("--fail-first") {
            guard failFirst >= 0 else { throw .usage("--fail-first must not be negative") }
            behavior.failFirst = Int(failFirst)
        }
        if let delay = args.value("--delay") { behavior.delay = try ServeCommand.duration(delay, "--delay") }
        if let tolerance = try args.integer("--tolerance") {
            guard tolerance >= 0 else { throw .usage("--tolerance must not be negative") }
            behavior.tolerance = tolerance
        }
        let json = args.has("--json")
        let output = Mutex<Void>(())
        let receiver = WebhookReceiver(secrets: secrets, behavior: behavior) { received in
            let text = json ? JSONValue.object(received.json).serializedString : render(received)
            output.withLock { _ in Terminal.out(text) }
        }
        var limits = HTTPServer.Limits()
        limits.maxBodyBytes = 10 << 20
        limits.threads = 1
        // A --delay longer than the request allowance must not get the connection cut off.
        limits.requestTimeout = .seconds(30) + behavior.delay
        let server: HTTPServer
        do {
            server = try HTTPServer(address: ListenAddress(host: host, port: Int(port)), limits: limits, handler: receiver)
        } catch where error.isAddressProblem {
            Terminal.err(error.description)
            throw .config
        } catch {
            throw .failed("\(error)")
        }
        let scheme = secrets.isEmpty ? "signatures not verified (no --secret)" : "verifying with \(Plural.count(secrets.count, "secret"))"
        Terminal.err("listening on http://\(server.address)/ · \(scheme) · answering \(behavior.status)"
            + (behavior.failFirst > 0 ? " after \(Plural.count(behavior.failFirst, "failure")) per delivery" : "")
            + (behavior.delay > .zero ? " after \(behavior.delay.configDescription)" : ""))
        let done = Wakeup()
        let signals = SignalTrap([SIGINT, SIGTERM]) { done.signal() }
        done.wait(until: nil)
        _ = signals
        server.stop(within: .seconds(1))
    }

    /// `14:30:00.123  points.earned  whd_…  attempt 1  ✅ signature valid (loyali)  → 200`, then the
    /// pretty body.
    static func render(_ received: WebhookReceiver.Received) -> String {
        let time = WebhookReceiver.timestamp(received.receivedAtMs)
        let clock = time.split(separator: "T").last.map { String($0.dropLast()) } ?? time
        var line = [clock, received.eventType ?? "-", received.deliveryID ?? "-"].joined(separator: "  ")
        line += "  attempt \(received.attempt.map(String.init) ?? "-")  \(received.verdict.rendered)  → \(received.status)"
        if received.path != "/" { line += "  \(received.method) \(received.path)" }
        let body: String
        if let value = try? JSONParser.parse(received.body) {
            body = value.prettyPrinted()
        } else {
            body = String(decoding: received.body, as: UTF8.self)
        }
        return line + "\n" + body.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
    }
}
