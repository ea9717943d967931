import LoyaliHooks

/// `loyali-hooks sign --secret S [--timestamp T] [FILE|-]`
enum SignCommand {
    static let usage = """
        USAGE: loyali-hooks sign (--secret S | --secret-env VAR)… [--timestamp T] [--scheme loyali|standard-webhooks]
                                 [--id ID] [--json] [FILE|-]

        Prints the signature header(s) for the exact bytes of FILE (or stdin). Several secrets give
        one v1 each, as during a secret rotation. The lines printed can be given to 'verify --header'
        as they are.

        OPTIONS:
          --secret S         a signing secret (visible in 'ps'; prefer --secret-env)
          --secret-env VAR   read a signing secret from the environment variable VAR
          --timestamp T      unix seconds to sign at, 0 to 253402300799 (default: now)
          --scheme NAME      loyali (default) or standard-webhooks
          --id ID            the webhook-id for standard-webhooks (default: msg_ + hash of the body)
          --json             print {"headers": {...}}
        EXAMPLE:
          printf '%s' '{"id":"evt_1","type":"points.earned"}' | loyali-hooks sign --secret-env LOYALI_SECRET --timestamp 1700000000
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: ["--secret", "--secret-env", "--timestamp", "--scheme", "--id"], flags: ["--json"])
        let secrets = try Secrets.from(args)
        guard args.positionals.count <= 1 else { throw .usage("sign takes at most one FILE") }
        let body = try Terminal.readInput(args.positionals.first)
        let timestamp = try args.unixTime("--timestamp") ?? Terminal.now
        let schemeName = args.value("--scheme") ?? SignatureSchemes.defaultName
        let scheme: any SignatureScheme
        do {
            scheme = try SignatureSchemes.make(name: schemeName, secrets: secrets)
        } catch {
            throw .usage("\(error)")
        }
        let id = args.value("--id") ?? "msg_" + Hex.encode(body.withUnsafeBytes { SHA256Digest.hash($0) }.prefix(12))
        let headers = body.withUnsafeBytes { scheme.signatureHeaders(body: $0, deliveryID: id, timestamp: timestamp) }
        if args.has("--json") {
            var object = JSONObject()
            for header in headers { object[header.name] = .string(header.value) }
            Terminal.out(JSONValue.object(JSONObject(["headers": .object(object)])).serializedString)
        } else {
            for header in headers { Terminal.out("\(header.name): \(header.value)") }
        }
    }
}

/// Secrets given on the command line, directly or through environment variables.
enum Secrets {
    /// Every `--secret` and `--secret-env` secret. An empty one is refused: an HMAC with an empty
    /// key is something anyone can compute, so it would sign or verify nothing.
    static func from(_ args: Arguments, required: Bool = true) throws(CLIError) -> [WebhookSecret] {
        var secrets: [WebhookSecret] = []
        for text in args.all("--secret") {
            guard !text.isEmpty else { throw .usage("--secret must not be empty") }
            secrets.append(WebhookSecret(text))
        }
        for name in args.all("--secret-env") {
            guard let value = ProcessEnvironment.value(name), !value.isEmpty else {
                throw .usage("--secret-env \(name): the variable is unset or empty")
            }
            secrets.append(WebhookSecret(value))
        }
        guard !secrets.isEmpty || !required else { throw .usage("give at least one --secret or --secret-env") }
        return secrets
    }
}
