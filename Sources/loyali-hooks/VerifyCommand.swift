import LoyaliHooks

/// `loyali-hooks verify --secret S [--secret S2] --header VALUE [--tolerance 300] [FILE|-]`
enum VerifyCommand {
    static let usage = """
        USAGE: loyali-hooks verify (--secret S | --secret-env VAR)… --header HEADER [--tolerance SECONDS]
                                   [--scheme loyali|standard-webhooks] [--id ID --timestamp T] [--now T] [FILE|-]

        Checks a signature header against the exact bytes of FILE (or stdin), with Stripe's rules:
        any v1 may match any secret, comparison is constant-time, and a timestamp outside the
        tolerance fails. Exit 0 when valid; exit 1 with the reason otherwise.

        HEADER is the bare value ('t=…,v1=…') or whole 'Name: value' lines exactly as 'sign' prints
        them. For standard-webhooks, the webhook-id and webhook-timestamp lines stand in for --id and
        --timestamp, and a webhook-signature line selects the scheme when --scheme is not given.

        OPTIONS:
          --header HEADER    the X-Loyali-Signature header (for standard-webhooks: webhook-signature)
          --tolerance S      allowed age in seconds (default 300; 0 disables the check)
          --scheme NAME      loyali (default) or standard-webhooks
          --id ID            standard-webhooks: the webhook-id header
          --timestamp T      standard-webhooks: the webhook-timestamp header
          --now T            verify as if the time were T (unix seconds), for replaying captures
        EXAMPLES:
          loyali-hooks verify --secret-env LOYALI_SECRET --header "$SIG" body.json
          SIG=$(loyali-hooks sign --secret-env LOYALI_SECRET body.json)
          loyali-hooks verify --secret-env LOYALI_SECRET --header "$SIG" body.json
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(
            raw, options: ["--secret", "--secret-env", "--header", "--tolerance", "--scheme", "--id", "--timestamp", "--now"],
            flags: [])
        let secrets = try Secrets.from(args)
        guard let headerText = args.value("--header") else { throw .usage("verify needs --header VALUE") }
        guard args.positionals.count <= 1 else { throw .usage("verify takes at most one FILE") }
        let tolerance = try args.integer("--tolerance") ?? 300
        guard tolerance >= 0 else { throw .usage("--tolerance must not be negative") }
        let now = try args.unixTime("--now") ?? Terminal.now
        let pasted = PastedSignatureHeaders(headerText)
        let schemeName = args.value("--scheme") ?? (pasted.has(StandardWebhooksScheme.signatureHeaderName)
            && !pasted.has(LoyaliSignatureScheme.headerName) ? StandardWebhooksScheme.name : SignatureSchemes.defaultName)
        let body = try Terminal.readInput(args.positionals.first)
        let failure: SignatureVerificationError?
        switch schemeName {
        case LoyaliSignatureScheme.name:
            let header = try signature(in: pasted, named: LoyaliSignatureScheme.headerName, scheme: schemeName)
            let verifier = LoyaliSignatureVerifier(secrets: secrets, tolerance: tolerance)
            failure = outcome { () throws(SignatureVerificationError) in try verifier.verify(header: header, body: body, now: now) }
        case StandardWebhooksScheme.name:
            let header = try signature(in: pasted, named: StandardWebhooksScheme.signatureHeaderName, scheme: schemeName)
            let id = try value("--id", args, line: StandardWebhooksScheme.idHeaderName, pasted)
            let timestamp = try value("--timestamp", args, line: StandardWebhooksScheme.timestampHeaderName, pasted)
            guard let id, let timestamp else {
                throw .usage("standard-webhooks verification needs --id and --timestamp (or the webhook-id and webhook-timestamp lines in --header)")
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

    /// The signature to check: the line named `name`, else the one bare value. Lines naming the
    /// other scheme's signature header are a usage mistake, said as such rather than as a bad signature.
    private static func signature(in pasted: PastedSignatureHeaders, named name: String, scheme: String) throws(CLIError) -> String {
        if let value = pasted.value(named: name) { return value }
        let other = scheme == LoyaliSignatureScheme.name ? StandardWebhooksScheme.signatureHeaderName : LoyaliSignatureScheme.headerName
        if pasted.has(other) {
            throw .usage("--header holds a \(other) line, which is not a \(scheme) signature; check --scheme")
        }
        guard pasted.bare.count <= 1 else { throw .usage("--header holds several values; give one \(name) value") }
        // An empty --header reaches the verifier, which says why it is not a signature.
        return pasted.bare.first ?? ""
    }

    /// `option`'s value, else the pasted line named `line`; both given must agree.
    private static func value(_ option: String, _ args: Arguments, line: String, _ pasted: PastedSignatureHeaders) throws(CLIError) -> String? {
        let given = args.value(option)
        let pastedValue = pasted.value(named: line)
        if let given, let pastedValue, given != pastedValue {
            throw .usage("\(option) '\(given)' disagrees with the \(line) line in --header ('\(pastedValue)')")
        }
        return given ?? pastedValue
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
