import LoyaliHooks

/// `loyali-hooks verify --secret S [--secret S2] --header VALUE [--tolerance 300] [FILE|-]`
enum VerifyCommand {
    static let usage = """
        USAGE: loyali-hooks verify (--secret S | --secret-env VAR)… --header VALUE [--tolerance SECONDS]
                                   [--scheme loyali|standard-webhooks] [--id ID --timestamp T] [--now T] [FILE|-]

        Checks a signature header against the exact bytes of FILE (or stdin), with Stripe's rules:
        any v1 may match any secret, comparison is constant-time, and a timestamp outside the
        tolerance fails. Exit 0 when valid; exit 1 with the reason otherwise.

        OPTIONS:
          --header VALUE     the X-Loyali-Signature value (for standard-webhooks: webhook-signature)
          --tolerance S      allowed age in seconds (default 300; 0 disables the check)
          --scheme NAME      loyali (default) or standard-webhooks
          --id ID            standard-webhooks: the webhook-id header
          --timestamp T      standard-webhooks: the webhook-timestamp header
          --now T            verify as if the time were T (unix seconds), for replaying captures
        EXAMPLE:
          loyali-hooks verify --secret-env LOYALI_SECRET --header "$SIG" body.json
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(
            raw, options: ["--secret", "--secret-env", "--header", "--tolerance", "--scheme", "--id", "--timestamp", "--now"],
            flags: [])
        let secrets = try Secrets.from(args)
        guard let header = args.value("--header") else { throw .usage("verify needs --header VALUE") }
        guard args.positionals.count <= 1 else { throw .usage("verify takes at most one FILE") }
        let tolerance = try args.integer("--tolerance") ?? 300
        guard tolerance >= 0 else { throw .usage("--tolerance must not be negative") }
        let now = try args.integer("--now") ?? Terminal.now
        let body = try Terminal.readInput(args.positionals.first)
        let schemeName = args.value("--scheme") ?? SignatureSchemes.defaultName
        let failure: SignatureVerificationError?
        switch schemeName {
        case LoyaliSignatureScheme.name:
            let verifier = LoyaliSignatureVerifier(secrets: secrets, tolerance: tolerance)
            failure = outcome { () throws(SignatureVerificationError) in try verifier.verify(header: header, body: body, now: now) }
        case StandardWebhooksScheme.name:
            guard let id = args.value("--id"), let timestamp = args.value("--timestamp") else {
                throw .usage("standard-webhooks verification needs --id and --timestamp")
            }
            let verifier: StandardWebhooksVerifier
            do {
                verifier = try StandardWebhooksVerifier(secrets: secrets, tolerance: tolerance)
            } catch {
                throw .usage("\(error)")
            }
            failure = outcome { () throws(SignatureVerificationError) in
                try verifier.verify(id: id, timestamp: timestamp, signatureHeader: header, body: body, now: now)
            }
        default:
            throw .usage("unknown scheme '\(schemeName)'\(Suggestion.didYouMean(schemeName, in: SignatureSchemes.names))")
        }
        if let failure { throw .failed("invalid: \(failure)") }
        Terminal.out("valid: signature matches")
    }

    private static func outcome(_ check: () throws(SignatureVerificationError) -> Void) -> SignatureVerificationError? {
        do {
            try check()
            return nil
        } catch {
            return error
        }
    }
}
