import Foundation
import Testing

@testable import LoyaliHooks

// MARK: - Helpers

private let baseEnvironment = [
    "HOOK_SECRET": "whsec_current_secret_value",
    "SYNC_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "REGION": "eu-west",
]

/// Loads one pipeline file's text; returns the pipeline (nil on errors) and every diagnostic.
private func load(
    _ text: String, file: String = "pipelines/p.yaml", environment: [String: String] = baseEnvironment
) -> (PipelineDefinition?, [Diagnostic]) {
    let loader = PipelineLoader(environment: environment, registry: .builtIn)
    let (result, diagnostics) = loader.load(file: file, text: text)
    return (result?.0, diagnostics)
}

/// The errors of loading `text`, as `path:line:col: error: message` headlines.
private func headlines(_ text: String, environment: [String: String] = baseEnvironment) -> [String] {
    load(text, environment: environment).1.map(\.headline)
}

/// Loads `text`, requiring exactly one error, and returns it.
private func singleError(
    _ text: String, environment: [String: String] = baseEnvironment,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws -> Diagnostic {
    let (pipeline, diagnostics) = load(text, environment: environment)
    #expect(pipeline == nil, sourceLocation: sourceLocation)
    let errors = diagnostics.filter { $0.severity == .error }
    try #require(errors.count == 1, "expected one error, got: \(diagnostics.map(\.headline))", sourceLocation: sourceLocation)
    return errors[0]
}

/// A fresh temporary directory, removed by the caller with `cleanup`.
private func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("loyali-config-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private func write(_ text: String, to url: URL) throws {
    try Data(text.utf8).write(to: url)
}

/// A minimal valid pipeline with a stdout sink, to which one line is added under `sinks:`.
private func pipeline(withSink sink: String, sign: Bool = true) -> String {
    """
    pipeline: minimal
    source: { type: stdin }
    \(sign ? "sign: { secrets: [\"${HOOK_SECRET}\"] }\n" : "")sinks:
      \(sink)
    """
}

// MARK: - A valid, full pipeline

@Suite struct ValidPipelineTests {
    static let full = """
        pipeline: fulfillment
        description: Rewards to the fulfillment service, and an audit log.
        source: { type: file, path: "${EVENTS_FILE:-events/loyali.jsonl}" }
        filter:
          events: [redemption.created, "redemption.*", points.earned]
          exclude: [redemption.cancelled]
        transform:
          - set: { data.program: gold-rewards, data.meta.region: "${REGION}", data.count: 3, data.flag: true }
          - remove: [data.internal_notes]
          - rename: { data.customer_id: data.user_id }
          - redact: [data.customer_email]
          - pick: [data.user_id, data.program, data.meta.region]
        sign:
          secrets: ["${HOOK_SECRET}", "${PREV:-}"]
        sinks:
          warehouse:
            type: http
            url: https://warehouse.example.com/hooks/loyali
            timeout: 10s
            retry: { schedule: [0s, 1m, 5m, 30m, 2h], jitter: 10% }
          audit: { type: file, path: logs/fulfillment.jsonl }
          console: { type: stdout, retry: { schedule: [0s, 500ms] } }
        """

    @Test func loadsEveryKey() throws {
        let (loaded, diagnostics) = load(Self.full)
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.description))")
        let pipeline = try #require(loaded)
        #expect(pipeline.name == "fulfillment")
        #expect(pipeline.description == "Rewards to the fulfillment service, and an audit log.")
        #expect(pipeline.file == "pipelines/p.yaml")

        let source = try #require(pipeline.source as? FileSource)
        #expect(source.path == "events/loyali.jsonl")
        #expect(source.identity == "file:events/loyali.jsonl")

        #expect(pipeline.filter.include.map(\.description) == ["redemption.created", "redemption.*", "points.earned"])
        #expect(pipeline.filter.exclude.map(\.description) == ["redemption.cancelled"])
        #expect(pipeline.filter.accepts("redemption.approved"))
        #expect(!pipeline.filter.accepts("redemption.cancelled"))
        #expect(!pipeline.filter.accepts("tier.upgraded"))

        #expect(pipeline.steps.map(\.name) == ["set", "remove", "rename", "redact", "pick"])
        let set = try #require(pipeline.steps[0] as? SetStep)
        #expect(set.assignments.map(\.path.description) == ["data.program", "data.meta.region", "data.count", "data.flag"])
        #expect(set.assignments.map(\.value) == [
            .string("gold-rewards"), .string("eu-west"), .number(JSONNumber(literal: "3")), .bool(true),
        ])
        let rename = try #require(pipeline.steps[2] as? RenameStep)
        #expect(rename.moves.map { "\($0.from)->\($0.to)" } == ["data.customer_id->data.user_id"])
        let pick = try #require(pipeline.steps[4] as? PickStep)
        #expect(pick.paths.map(\.description) == ["data.user_id", "data.program", "data.meta.region"])

        // The unset `${PREV:-}` rotation secret drops out: one active secret, one v1.
        let signing = try #require(pipeline.signing)
        #expect(signing.schemeName == "loyali")
        #expect(signing.secretCount == 1)
        let header = signing.scheme.signatureHeaders(body: Array("{}".utf8), deliveryID: "whd_x", timestamp: 1_700_000_000)
        #expect(header.count == 1)
        #expect(header.first?.name == "X-Loyali-Signature")
        #expect(header.first.map { $0.value.components(separatedBy: "v1=").count - 1 } == 1)

        #expect(pipeline.sinks.map(\.name) == ["warehouse", "audit", "console"])
        let http = try #require(pipeline.sinks[0].sink as? HTTPSink)
        #expect(http.url.description == "https://warehouse.example.com/hooks/loyali")
        #expect(http.timeout == .seconds(10))
        #expect(pipeline.sinks[0].retry.schedule == [.zero, .seconds(60), .seconds(300), .seconds(1_800), .seconds(7_200)])
        #expect(pipeline.sinks[0].retry.jitter == 0.1)
        #expect(pipeline.sinks[0].retry.maxAttempts == 5)

        let file = try #require(pipeline.sinks[1].sink as? FileSink)
        #expect(file.target == "logs/fulfillment.jsonl")
        #expect(pipeline.sinks[1].retry == .standard)

        #expect(pipeline.sinks[2].sink is StdoutSink)
        #expect(pipeline.sinks[2].retry.schedule == [.zero, .milliseconds(500)])
    }

    @Test func bothRotationSecretsSignWhenBothAreSet() throws {
        var environment = baseEnvironment
        environment["PREV"] = "whsec_previous_secret"
        let (loaded, diagnostics) = load(Self.full, environment: environment)
        #expect(diagnostics.isEmpty)
        let signing = try #require(loaded?.signing)
        #expect(signing.secretCount == 2)
        let header = signing.scheme.signatureHeaders(body: Array("{}".utf8), deliveryID: "whd_x", timestamp: 1_700_000_000)
        let value = try #require(header.first?.value)
        #expect(value.hasPrefix("t=1700000000,v1="))
        #expect(value.components(separatedBy: ",v1=").count == 3)
        #expect(!value.contains(" "))
    }

    @Test func nameDefaultsToTheFileName() throws {
        let (loaded, diagnostics) = load(
            """
            source: { type: sample }
            sinks: { out: { type: stdout } }
            """, file: "pipelines/nightly-audit.yaml")
        #expect(diagnostics.isEmpty)
        #expect(loaded?.name == "nightly-audit")
        #expect(loaded?.signing == nil)
        #expect(loaded?.steps.isEmpty == true)
        // No filter means every catalogued event.
        #expect(loaded?.filter.acceptedTypes == EventCatalogue.names)
    }

    @Test func standardWebhooksScheme() throws {
        let (loaded, diagnostics) = load(
            """
            pipeline: sync
            source: { type: stdin }
            sign:
              scheme: standard-webhooks
              secrets: ["${SYNC_SECRET}"]
            sinks:
              profiles: { type: http, url: "https://api.example.com/loyalty/sync" }
            """)
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.headline))")
        let signing = try #require(loaded?.signing)
        #expect(signing.schemeName == "standard-webhooks")
        // The Standard Webhooks reference vector.
        let headers = signing.scheme.signatureHeaders(
            body: Array(#"{"test": 2432232314}"#.utf8), deliveryID: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330)
        #expect(headers.first { $0.name == "webhook-signature" }?.value == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }
}

// MARK: - Interpolation and secret files

@Suite struct InterpolationTests {
    @Test func variablesAndDefaults() throws {
        let text = """
            pipeline: p
            description: "${GREETING:-hello} from ${REGION}"
            source: { type: file, path: "${DIR:-/var/events}/${REGION}.jsonl" }
            sinks:
              log: { type: file, path: "logs/${REGION}-$${literal}.jsonl" }
            """
        let (loaded, diagnostics) = load(text)
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.headline))")
        let pipeline = try #require(loaded)
        #expect(pipeline.description == "hello from eu-west")
        #expect((pipeline.source as? FileSource)?.path == "/var/events/eu-west.jsonl")
        #expect(pipeline.sinks.first?.sink.target == "logs/eu-west-${literal}.jsonl")

        var environment = baseEnvironment
        environment["DIR"] = "/data"
        environment["GREETING"] = "hi"
        let (again, _) = load(text, environment: environment)
        #expect(again?.description == "hi from eu-west")
        #expect((again?.source as? FileSource)?.path == "/data/eu-west.jsonl")
    }

    @Test func emptyVariableUsesTheDefault() throws {
        var environment = baseEnvironment
        environment["DIR"] = ""
        let (loaded, _) = load(
            """
            source: { type: file, path: "${DIR:-fallback}/x.jsonl" }
            sinks: { out: { type: stdout } }
            """, environment: environment)
        #expect((loaded?.source as? FileSource)?.path == "fallback/x.jsonl")
    }

    @Test func interpolatorReportsWhatItExpanded() {
        let interpolator = VariableInterpolator(environment: ["A": "x"])
        let a = TextRedaction.Replacement(hidden: "x", shownAs: "${A}")
        #expect(interpolator.expand("${A}") == .success(.init(value: "x", hasReferences: true, hasLiteralText: false, substitutions: [a], shown: "${A}")))
        #expect(interpolator.expand("${B:-}") == .success(.init(value: "", hasReferences: true, hasLiteralText: false)))
        #expect(interpolator.expand("${B:-d}") == .success(.init(value: "d", hasReferences: true, hasLiteralText: true)))
        #expect(interpolator.expand("p${A}") == .success(.init(value: "px", hasReferences: true, hasLiteralText: true, substitutions: [a], shown: "p${A}")))
        #expect(interpolator.expand("plain") == .success(.init(value: "plain", hasReferences: false, hasLiteralText: true)))
        guard case .failure(let failure) = interpolator.expand("ab${NOPE}") else {
            Issue.record("an undefined variable must fail")
            return
        }
        #expect(failure.offset == 2)
        #expect(failure.message.contains("undefined variable 'NOPE'"))
        guard case .failure(let open) = interpolator.expand("x${A") else {
            Issue.record("an unterminated reference must fail")
            return
        }
        #expect(open.offset == 1)
        #expect(open.message.contains("unterminated"))
    }

    @Test func secretFile() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let secrets = directory.appendingPathComponent("hook.secrets")
        try write("# current, then previous\nwhsec_from_file_one\n\n  whsec_from_file_two  \n", to: secrets)
        let (loaded, diagnostics) = load(
            """
            source: { type: stdin }
            sign: { secret_file: "\(secrets.path)" }
            sinks: { hook: { type: http, url: "https://example.com/h" } }
            """)
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.headline))")
        let signing = try #require(loaded?.signing)
        #expect(signing.secretCount == 2)
        // The signature is made with the file's secrets, exactly as trimmed.
        let body = Array("{}".utf8)
        let expected = LoyaliSignatureScheme(secrets: [WebhookSecret("whsec_from_file_one"), WebhookSecret("whsec_from_file_two")])
            .signatureHeaders(body: body, deliveryID: "whd_x", timestamp: 42)
        #expect(signing.scheme.signatureHeaders(body: body, deliveryID: "whd_x", timestamp: 42) == expected)
    }

    @Test func secretFileCombinesWithEnvironmentSecrets() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let secrets = directory.appendingPathComponent("s")
        try write("whsec_file\n", to: secrets)
        let (loaded, _) = load(
            """
            source: { type: stdin }
            sign: { secrets: ["${HOOK_SECRET}"], secret_file: "\(secrets.path)" }
            sinks: { out: { type: stdout } }
            """)
        #expect(loaded?.signing?.secretCount == 2)
    }

    @Test func unreadableAndEmptySecretFiles() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing").path
        let error = try singleError(
            """
            source: { type: stdin }
            sign: { secret_file: "\(missing)" }
            sinks: { out: { type: stdout } }
            """)
        #expect(error.headline == "pipelines/p.yaml:2:22: error: sign.secret_file '\(missing)' cannot be read")

        let empty = directory.appendingPathComponent("empty")
        try write("# only a comment\n\n", to: empty)
        let emptyError = try singleError(
            """
            source: { type: stdin }
            sign: { secret_file: "\(empty.path)" }
            sinks: { out: { type: stdout } }
            """)
        #expect(emptyError.message.contains("holds no secret"))
    }
}

// MARK: - Errors, each at its exact place

@Suite struct ConfigErrorTests {
    @Test func yamlSyntaxError() throws {
        let error = try singleError(
            """
            pipeline: p
            source: { type: stdin
            sinks: { out: { type: stdout } }
            """)
        #expect(error.location == SourceLocation(path: "pipelines/p.yaml", line: 3, column: 6))
        #expect(error.message.contains("did not find expected ',' or '}'"))
        #expect(error.message.contains("started at line 2, column 9"))
    }

    @Test func tabIndentationSaysSo() throws {
        let error = try singleError("pipeline: p\nsinks:\n\tout: { type: stdout }\n")
        #expect(error.location?.line == 3)
        #expect(error.message.contains("tab"))
    }

    @Test func unknownKeyWithSuggestion() throws {
        let error = try singleError(
            """
            pipeline: p
            descripton: typo
            source: { type: stdin }
            sinks: { out: { type: stdout } }
            """)
        #expect(
            error.headline
                == "pipelines/p.yaml:2:1: error: unknown key 'descripton' in a pipeline file; did you mean 'description'?")
    }

    @Test func unknownNestedKeys() {
        let lines = headlines(
            """
            source: { type: stdin }
            filter: { event: [points.earned] }
            sinks:
              out: { type: file, pth: x.jsonl }
            """)
        #expect(lines.contains("pipelines/p.yaml:2:11: error: unknown key 'event' in filter; did you mean 'events'?"))
        #expect(lines.contains("pipelines/p.yaml:4:22: error: unknown key 'pth' in file sink 'out'; did you mean 'path'?"))
        #expect(lines.contains("pipelines/p.yaml:4:3: error: file sink 'out' is missing required key 'path'"))
        #expect(lines.count == 3)
    }

    @Test func duplicateKey() throws {
        let error = try singleError(
            """
            pipeline: p
            source: { type: stdin }
            sinks: { out: { type: stdout } }
            pipeline: q
            """)
        #expect(
            error.headline
                == "pipelines/p.yaml:4:1: error: duplicate key 'pipeline' in a pipeline file; first defined at line 1, column 1")
    }

    @Test func wrongTypes() {
        #expect(headlines(
            """
            pipeline: p
            source: [stdin]
            sinks: { out: { type: stdout } }
            """) == ["pipelines/p.yaml:2:9: error: source must be a mapping, not sequence"])
        #expect(headlines(
            """
            source: { type: stdin }
            transform: { redact: [data.email] }
            sinks: { out: { type: stdout } }
            """).first?.hasPrefix("pipelines/p.yaml:2:12: error: transform must be a list of steps") == true)
        #expect(headlines(
            """
            source: { type: stdin }
            sinks: [stdout]
            """) == ["pipelines/p.yaml:2:8: error: sinks must be a mapping, not sequence"])
        #expect(headlines(
            """
            source: { type: stdin }
            sign: { secrets: ["${HOOK_SECRET}"] }
            sinks:
              hook: { type: http, url: "https://e.com/h", timeout: 10, allow_insecure_http: maybe }
            """) == [
                "pipelines/p.yaml:4:56: error: timeout must be a duration such as 500ms, 10s, 5m, 2h or 1d, not '10'",
                "pipelines/p.yaml:4:81: error: allow_insecure_http must be true or false, not 'maybe'",
            ])
        #expect(headlines(
            """
            source: { type: stdin }
            sinks:
              out: { type: stdout, retry: { schedule: 5m } }
            """).first?.hasPrefix("pipelines/p.yaml:3:43: error: retry.schedule must be a non-empty list of durations") == true)
    }

    /// Each duration key has a limit, checked while loading: a value past it (or too long for any
    /// integer) is a `path:line:col` error, never a trap later in the runner.
    @Test(arguments: ["99999999999999999d", "9223372036854775808s", "106751991160d", "1e3s"])
    func durationsPastTheirLimitAreErrors(value: String) {
        let found = headlines(
            """
            source: { type: stdin }
            sign: { secrets: ["${HOOK_SECRET}"] }
            sinks:
              hook: { type: http, url: "https://e.com/h", timeout: \(value), connect_timeout: \(value) }
              out: { type: stdout, retry: { schedule: [0s, \(value)], max_retry_after: \(value) } }
            """)
        let tooLong = value == "1e3s" ? "a duration such as 500ms, 10s, 5m, 2h or 1d" : "at most"
        #expect(found.count == 4, "\(found)")
        for (key, limit) in [("timeout", "1d"), ("connect_timeout", "1d"), ("retry.schedule item", "365d"), ("retry.max_retry_after", "365d")] {
            let message = value == "1e3s" ? "\(key) must be \(tooLong)" : "\(key) must be at most \(limit), not '\(value)'"
            #expect(found.contains { $0.hasPrefix("pipelines/p.yaml:") && $0.contains("error: \(message)") }, "\(key): \(found)")
        }
        #expect(headlines(pipeline(withSink: "out: { type: stdout, retry: { schedule: [0s, 365d], max_retry_after: 365d } }")).isEmpty)
        #expect(headlines(pipeline(withSink: #"hook: { type: http, url: "https://e.com/h", timeout: 24h, connect_timeout: 1d }"#)).isEmpty)
        #expect(headlines(pipeline(withSink: "out: { type: stdout, retry: { schedule: [0s, 366d] } }"))
            == ["pipelines/p.yaml:5:48: error: retry.schedule item must be at most 365d, not '366d'"])
    }

    /// Locating an unterminated `${` far into a quoted scalar used to compare the rest of the
    /// value at every position before it: quadratic, over ten minutes for this file. Now it is
    /// linear; the bound is only there so the old behaviour fails instead of hanging.
    @Test(arguments: ["\"", "'"])
    func unterminatedReferenceLateInALongQuotedValueIsLocatedInLinearTime(quote: String) throws {
        let before = String(repeating: "x", count: 100_000)
        let after = String(repeating: "a", count: 100_000)
        let started = ContinuousClock.now
        let error = try singleError(pipeline(withSink: "out: { type: file, path: \(quote)\(before)${\(after)\(quote) }"))
        #expect(ContinuousClock.now - started < .seconds(20))
        // Line 5 is the sink; the value starts after the quote at column 28.
        #expect(error.location?.line == 5)
        #expect(error.location?.column == 29 + 100_000)
        #expect(error.message == "unterminated variable reference; expected '}'")
        // A reference longer than the compared prefix, after another one, is still found.
        let long = String(repeating: "B", count: 100)
        let second = try singleError(pipeline(withSink: "out: { type: file, path: \(quote)${REGION}x${\(long)C}\(quote) }"))
        #expect(second.location?.column == 29 + 10)
        #expect(second.message.hasPrefix("undefined variable '\(long)C'"))
    }

    @Test func unknownEventTypeSuggestsTheCataloguedOne() throws {
        let error = try singleError(
            """
            pipeline: p
            source: { type: stdin }
            filter:
              events: [tier.upgraded, point.earned]
            sinks: { out: { type: stdout } }
            """)
        #expect(
            error.headline
                == "pipelines/p.yaml:4:27: error: filter.events: unknown event type 'point.earned'; did you mean 'points.earned'?")
        let exclude = try singleError(
            """
            source: { type: stdin }
            filter: { exclude: [redemption.canceled] }
            sinks: { out: { type: stdout } }
            """)
        #expect(exclude.message == "filter.exclude: unknown event type 'redemption.canceled'; did you mean 'redemption.cancelled'?")
        let group = try singleError(
            """
            source: { type: stdin }
            filter: { events: ["redemptions.*"] }
            sinks: { out: { type: stdout } }
            """)
        #expect(group.message == "filter.events: unknown event type 'redemptions.*'; did you mean 'redemption.*'?")
    }

    @Test func undefinedVariableColumnPointsAtTheReference() throws {
        // Plain scalar: `${` is at column 16.
        let plain = try singleError(
            """
            source: { type: stdin }
            sinks:
              out:
                type: file
                path: logs/${NOPE}.jsonl
            """)
        #expect(
            plain.headline
                == "pipelines/p.yaml:5:16: error: undefined variable 'NOPE'; set it in the environment or write ${NOPE:-default}")
        // Quoted scalar: the opening quote is one column before the text.
        let quoted = try singleError(
            """
            source: { type: stdin }
            sign:
              secrets: ["${HOOK_SECRET}", "${MISSING_SECRET}"]
            sinks: { out: { type: stdout } }
            """)
        #expect(quoted.location == SourceLocation(path: "pipelines/p.yaml", line: 3, column: 32))
        #expect(quoted.message.hasPrefix("undefined variable 'MISSING_SECRET'"))
        let line = try #require(quoted.sourceLine)
        #expect(Array(line)[quoted.location!.column - 1 ..< quoted.location!.column + 1] == ["$", "{"])
    }

    @Test
    func undefinedVariableColumnAfterAnEscapeInADoubleQuotedScalar() throws {
        // The value holds one tab where the source line holds the two characters `\t`, so the
        // caret must still land on the `$` of the reference as written.
        let error = try singleError(
            """
            source: { type: stdin }
            description: "a\\tb ${NOPE}"
            sinks: { out: { type: stdout } }
            """)
        let line = try #require(error.sourceLine)
        let column = try #require(error.location?.column)
        #expect(Array(line)[column - 1] == "$", "caret at column \(column) of \(line)")
    }

    @Test("a secret is masked in every diagnostic, also when another field's error quotes its value")
    func secretsAreMaskedInEveryMessage() throws {
        // A literal secret reused through a YAML alias: the URL and timeout errors quote it, and
        // the timeout error is recorded before the header that makes it a secret is read.
        let literal = "sk_live_q8w7e6r5"
        let (_, aliased) = load("""
            source: { type: stdin }
            sign: { secrets: ["${HOOK_SECRET}"] }
            sinks:
              hook:
                type: http
                url: &token "Bearer \(literal)"
                timeout: *token
                headers: { Authorization: *token }
            """)
        #expect(aliased.count == 3, "\(aliased.map(\.headline))")
        for diagnostic in aliased {
            #expect(!diagnostic.description.contains("q8w7e6r5"), "\(diagnostic)")
        }
        // A signing secret written literally, quoted by another field's error.
        let (_, signing) = load("""
            source: { type: stdin }
            sign: { secrets: [&s "whsec_literal_77aa"] }
            sinks: { hook: { type: http, url: *s } }
            """)
        #expect(signing.count == 2, "\(signing.map(\.headline))")
        #expect(signing.allSatisfy { !$0.description.contains("literal_77aa") }, "\(signing)")
        // Values from the environment: a field reusing a secret variable shows the reference.
        var environment = baseEnvironment
        environment["AUTH_TOKEN"] = "tok_env_3c4d5e"
        let (_, fromEnvironment) = load("""
            source: { type: stdin }
            sign: { secrets: ["${HOOK_SECRET}"] }
            sinks:
              hook:
                type: http
                url: "http://127.0.0.1:1/"
                timeout: "${AUTH_TOKEN}"
                max_in_flight: "${HOOK_SECRET}"
                headers: { Authorization: "Bearer ${AUTH_TOKEN}" }
              out: { type: file, path: "${AUTH_TOKEN}/" }
            """, environment: environment)
        #expect(fromEnvironment.count == 3, "\(fromEnvironment.map(\.headline))")
        for diagnostic in fromEnvironment {
            #expect(!diagnostic.description.contains("tok_env_3c4d5e") && !diagnostic.description.contains("whsec_current"), "\(diagnostic)")
            #expect(diagnostic.message.contains("${AUTH_TOKEN}") || diagnostic.message.contains("${HOOK_SECRET}"), "\(diagnostic)")
        }
    }

    @Test func literalSecretIsRefusedAndNeverEchoed() throws {
        let secret = "whsec_Zr9kQ2literalvalue"
        let error = try singleError(
            """
            pipeline: p
            source: { type: stdin }
            sign:
              secrets: ["\(secret)"]
            sinks: { out: { type: stdout } }
            """)
        #expect(error.location == SourceLocation(path: "pipelines/p.yaml", line: 4, column: 13))
        #expect(error.message.contains("literal secret"))
        #expect(!error.description.contains(secret))
        #expect(!error.description.contains("Zr9kQ2"))
        #expect(error.description.contains("********"))

        // A literal default inside a reference is written in the file too.
        let fallback = try singleError(
            """
            source: { type: stdin }
            sign: { secrets: ["${UNSET_SECRET:-whsec_fallback_in_file}"] }
            sinks: { out: { type: stdout } }
            """)
        #expect(fallback.message.contains("literal secret"))
        #expect(!fallback.description.contains("whsec_fallback_in_file"))

        // Unquoted and as a single scalar.
        let plain = try singleError(
            """
            source: { type: stdin }
            sign: { secrets: whsec_plain_literal_1234 }
            sinks: { out: { type: stdout } }
            """)
        #expect(plain.message.contains("literal secret"))
        #expect(!plain.description.contains("whsec_plain_literal_1234"))
    }

    @Test
    func literalSecretDoesNotLeakThroughAnotherErrorOnTheSameLine() {
        let secret = "whsec_Zr9kQ2literalvalue"
        let (_, diagnostics) = load(
            """
            source: { type: stdin }
            sign:
              secrets: ["\(secret)", "${MISSING_SECRET}"]
            sinks: { out: { type: stdout } }
            """)
        #expect(diagnostics.count == 2)
        let rendered = diagnostics.map(\.description).joined(separator: "\n")
        #expect(!rendered.contains(secret), "validate output shows the secret:\n\(rendered)")
    }

    @Test func literalCredentialHeader() throws {
        let error = try singleError(
            pipeline(withSink: #"hook: { type: http, url: "https://e.com/h", headers: { Authorization: "Bearer abc123token" } }"#))
        #expect(error.message.contains("literal credential"))
        #expect(!error.description.contains("abc123token"))
    }

    @Test(arguments: [
        "http://127.0.0.1:8080/hooks", "http://localhost/hooks", "http://[::1]:9000/h", "http://127.1.2.3/h",
        "https://hooks.example.com/x",
    ])
    func loopbackHTTPIsAllowed(url: String) throws {
        let (loaded, diagnostics) = load(pipeline(withSink: "hook: { type: http, url: \"\(url)\" }"))
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.headline))")
        #expect(loaded?.sinks.first?.sink.target == url)
    }

    @Test func plainHTTPToARemoteHostIsRefused() throws {
        let error = try singleError(pipeline(withSink: "hook: { type: http, url: http://hooks.example.com/x }"))
        #expect(
            error.headline
                == "pipelines/p.yaml:5:28: error: plain http:// to non-loopback host 'hooks.example.com' would expose payloads and signatures; use https, or set allow_insecure_http: true")
        let (loaded, diagnostics) = load(
            pipeline(withSink: "hook: { type: http, url: http://hooks.example.com/x, allow_insecure_http: true }"))
        #expect(diagnostics.isEmpty)
        #expect(loaded?.sinks.first?.sink.target == "http://hooks.example.com/x")
    }

    @Test("a sink URL is shown as written, ${VAR} unexpanded, and only the request uses the values")
    func sinkURLIsShownAsWritten() throws {
        var environment = baseEnvironment
        environment["URL_TOKEN"] = "tok_9f8e7d6c5b4a"
        environment["HOOK_HOST"] = "127.0.0.1"
        let written = "http://${HOOK_HOST}:9/hooks?token=${URL_TOKEN}&region=${REGION}"
        let (loaded, diagnostics) = load(pipeline(withSink: "hook: { type: http, url: \"\(written)\" }"), environment: environment)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let sinkDefinition = try #require(loaded?.sinks.first)
        let sink = try #require(sinkDefinition.sink as? HTTPSink)
        #expect(sink.url.description == "http://127.0.0.1:9/hooks?token=tok_9f8e7d6c5b4a&region=eu-west")
        #expect(sink.target == written)
        let pipeline = try #require(loaded)
        // validate --json and the admin API's routes and pipelines.
        let json = JSONValue.object(DeliveryJSON.pipeline(pipeline)).serializedString
        #expect(json.contains("token=${URL_TOKEN}") && !json.contains("tok_9f8e7d6c5b4a"), "\(json)")
        // Both dry-run formats.
        let request = DeliveryRequest(
            pipeline: "minimal", sink: "hook", deliveryID: "whd_1", eventID: "evt_1", eventType: "points.earned",
            attempt: 1, headers: [], body: Array("{}".utf8))
        for format in [DryRunPrinter.Format.full, .json] {
            var out: [UInt8] = []
            DryRunPrinter(format: format).print(request, sink: sinkDefinition, to: &out)
            let text = String(decoding: out, as: UTF8.self)
            #expect(text.contains(written) && !text.contains("tok_9f8e7d6c5b4a"), "\(text)")
        }
        // What the attempt reports (a refused connection names the host) carries no value either.
        let result = HTTPSink.wait { sink.send(request, completion: $0) }
        guard case .failure(let failure) = result else {
            Issue.record("port 9 answered: \(result)")
            return
        }
        #expect(!failure.message.contains("127.0.0.1"), "\(failure.message)")
    }

    @Test("a default written in the file is shown; a value from the environment is not")
    func sinkURLDefaultsAreShown() throws {
        let sink = "hook: { type: http, url: \"${HOOK_URL:-http://127.0.0.1:8080/in}\" }"
        let (unset, _) = load(pipeline(withSink: sink))
        #expect(unset?.sinks.first?.sink.target == "http://127.0.0.1:8080/in")
        var environment = baseEnvironment
        environment["HOOK_URL"] = "http://127.0.0.1:9/in?token=tok_abcdef"
        let (set, _) = load(pipeline(withSink: sink), environment: environment)
        #expect(set?.sinks.first?.sink.target == "${HOOK_URL}")
        #expect((set?.sinks.first?.sink as? HTTPSink)?.url.description == "http://127.0.0.1:9/in?token=tok_abcdef")
    }

    @Test("a bad sink URL built from variables is quoted as written")
    func badSinkURLProblemsQuoteTheWrittenURL() throws {
        var environment = baseEnvironment
        environment["URL_TOKEN"] = "tok_9f8e7d6c5b4a"
        for url in ["ftp://e.com/h?t=${URL_TOKEN}", "https://e.com:99999/h?t=${URL_TOKEN}", "${URL_TOKEN}", "http://h${URL_TOKEN}.com/"] {
            let error = try singleError(pipeline(withSink: "hook: { type: http, url: \"\(url)\" }"), environment: environment)
            #expect(error.message.contains(url) && !error.description.contains("tok_9f8e7d6c5b4a"), "\(error)")
        }
    }

    @Test func webhookURLChecks() {
        #expect((try? WebhookURL.parse("http://192.168.1.10/h", allowInsecureHTTP: false).get()) == nil)
        #expect((try? WebhookURL.parse("http://127.0.0.1.evil.com/h", allowInsecureHTTP: false).get()) == nil)
        #expect((try? WebhookURL.parse("http://localhost.evil.com/h", allowInsecureHTTP: false).get()) == nil)
        #expect((try? WebhookURL.parse("https://user:pw@e.com/h", allowInsecureHTTP: false).get()) == nil)
        #expect((try? WebhookURL.parse("ftp://e.com/h", allowInsecureHTTP: true).get()) == nil)
        #expect((try? WebhookURL.parse("https://E.com", allowInsecureHTTP: false).get())?.description == "https://e.com/")
    }

    @Test func duplicatePipelineNamesAcrossFiles() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let body = "source: { type: stdin }\nsinks: { out: { type: stdout } }\n"
        try write("pipeline: shared\n" + body, to: directory.appendingPathComponent("a.yaml"))
        try write("# second\npipeline: shared\n" + body, to: directory.appendingPathComponent("b.yml"))
        try write("not a pipeline", to: directory.appendingPathComponent("notes.txt"))
        let result = PipelineLoader(environment: baseEnvironment, registry: .builtIn).load(paths: [directory.path])
        #expect(result.files == [directory.path + "/a.yaml", directory.path + "/b.yml"])
        #expect(result.hasErrors)
        #expect(result.pipelines.isEmpty)
        #expect(result.diagnostics.map(\.headline) == [
            "\(directory.path)/b.yml:2:11: error: duplicate pipeline name 'shared'; already defined in \(directory.path)/a.yaml:1"
        ])
        #expect(result.diagnostics.first?.sourceLine == "pipeline: shared")
    }

    @Test func defaultNamesCollideToo() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let body = "source: { type: stdin }\nsinks: { out: { type: stdout } }\n"
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("nested"), withIntermediateDirectories: true)
        try write(body, to: directory.appendingPathComponent("audit.yaml"))
        try write(body, to: directory.appendingPathComponent("nested/audit.yaml"))
        let result = PipelineLoader(environment: baseEnvironment, registry: .builtIn).load(paths: [directory.path])
        #expect(result.files.count == 2)
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.message.hasPrefix("duplicate pipeline name 'audit'") == true)
    }

    @Test func loadPathsReportsMissingPathsAndEmptyFolders() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("nope").path
        let result = PipelineLoader(environment: baseEnvironment, registry: .builtIn).load(paths: [missing, directory.path])
        #expect(result.diagnostics.map(\.headline) == [
            "error: \(missing): no such file or directory",
            "error: \(directory.path): no pipeline files (*.yaml, *.yml) found",
        ])
    }

    @Test func loadPathsLoadsValidFilesInOrder() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let body = "source: { type: stdin }\nsinks: { out: { type: stdout } }\n"
        try write(body, to: directory.appendingPathComponent("zeta.yaml"))
        try write(body, to: directory.appendingPathComponent("alpha.yaml"))
        let result = PipelineLoader(environment: baseEnvironment, registry: .builtIn).load(paths: [directory.path])
        #expect(!result.hasErrors)
        #expect(result.pipelines.map(\.name) == ["alpha", "zeta"])
    }

    @Test func duplicateSinkNames() throws {
        let error = try singleError(
            """
            source: { type: stdin }
            sinks:
              out: { type: stdout }
              audit: { type: file, path: a.jsonl }
              out: { type: file, path: b.jsonl }
            """)
        #expect(error.headline == "pipelines/p.yaml:5:3: error: duplicate key 'out' in sinks; first defined at line 3, column 3")
    }

    @Test func unknownSinkType() throws {
        let error = try singleError(pipeline(withSink: "log: { type: fiel, path: out.jsonl }"))
        #expect(error.headline == "pipelines/p.yaml:5:16: error: unknown sink type 'fiel'; did you mean 'file'?")
        let other = try singleError(pipeline(withSink: "log: { type: kafka }"))
        #expect(other.message == "unknown sink type 'kafka'")
    }

    @Test("keys that no sink or source type accepts are reported even when the type is unknown or missing")
    func keysAreCheckedWhenTheTypeIsUnknown() {
        #expect(headlines(
            """
            source: { type: stdn, pth: x }
            sinks:
              hook:
                type: htp
                url: https://hooks.example.com/in
                retyr: { schedule: [1s] }
                retry: { schedul: [1s] }
              other:
                retyr: 3
                path: out.jsonl
            """) == [
                "pipelines/p.yaml:1:17: error: unknown source type 'stdn'; did you mean 'stdin'?",
                "pipelines/p.yaml:1:23: error: unknown key 'pth' in source; did you mean 'path'?",
                "pipelines/p.yaml:4:11: error: unknown sink type 'htp'; did you mean 'http'?",
                "pipelines/p.yaml:6:5: error: unknown key 'retyr' in sink 'hook'; did you mean 'retry'?",
                "pipelines/p.yaml:7:14: error: unknown key 'schedul' in retry; did you mean 'schedule'?",
                "pipelines/p.yaml:8:3: error: sink 'other' is missing required key 'type'",
                "pipelines/p.yaml:9:5: error: unknown key 'retyr' in sink 'other'; did you mean 'retry'?",
            ])
    }

    @Test func unknownSourceTypeAndTransformStep() {
        #expect(headlines(
            """
            source: { type: stdn }
            transform:
              - redakt: [data.email]
            sinks: { out: { type: stdout } }
            """) == [
                "pipelines/p.yaml:1:17: error: unknown source type 'stdn'; did you mean 'stdin'?",
                "pipelines/p.yaml:3:5: error: unknown transform step 'redakt'; did you mean 'redact'?",
            ])
    }

    @Test func httpSourceNeedsATokenOrAnExplicitAuthNone() throws {
        func source(_ options: String) -> String {
            "pipeline: ingest\nsource: { type: http\(options) }\nsinks:\n  log: { type: stdout }\n"
        }
        #expect(headlines(source(", listen: \"127.0.0.1:8787\"")) == [
            "pipelines/p.yaml:2:1: error: an http source needs a token (token: \"${INGEST_TOKEN}\"), or auth: none to receive without one on a loopback address"
        ])
        #expect(headlines(source(", token: \"${INGEST_TOKEN:-}\"")) == [
            "pipelines/p.yaml:2:30: error: source.token is empty; set the variable, or write auth: none to receive without a token (loopback only)"
        ])
        #expect(headlines(source(", listen: \"0.0.0.0:8787\", auth: none")) == [
            "pipelines/p.yaml:2:53: error: source.auth: none is refused on 0.0.0.0:8787, which other machines can reach; listen on 127.0.0.1 or set a token"
        ])
        #expect(headlines(source(", listen: \":9000\", auth: none")).first?.contains("refused on 0.0.0.0:9000") == true)
        #expect(headlines(source(", listen: \"10.1.2.3:9000\", auth: none")).first?.contains("refused on 10.1.2.3:9000") == true)
        #expect(headlines(source(", auth: none, token: \"${INGEST_TOKEN}\""), environment: ["INGEST_TOKEN": "t"]) == [
            "pipelines/p.yaml:2:29: error: source.auth: none contradicts source.token; keep one of them"
        ])
        #expect(headlines(source(", auth: bearer")).first?.hasPrefix("pipelines/p.yaml:2:29: error: source.auth must be 'none'") == true)
        for loopback in ["127.0.0.1:8787", "[::1]:8787", "localhost:8787"] {
            let (open, diagnostics) = load(source(", listen: \"\(loopback)\", auth: none"))
            #expect(diagnostics.isEmpty, "\(diagnostics)")
            #expect((open?.source as? HTTPSource)?.requiresToken == false)
        }
        let (guarded, diagnostics) = load(source(", token: \"${INGEST_TOKEN}\""), environment: ["INGEST_TOKEN": "t"])
        #expect(diagnostics.isEmpty)
        #expect((guarded?.source as? HTTPSource)?.requiresToken == true)
    }

    @Test func httpSinkWithoutSign() throws {
        let error = try singleError(pipeline(withSink: "hook: { type: http, url: https://e.com/h }", sign: false))
        #expect(error.location == SourceLocation(path: "pipelines/p.yaml", line: 4, column: 3))
        #expect(error.message.hasPrefix("sink 'hook' sends webhooks, which must be signed"))
        // Each unsigned webhook sink is reported at its own name, not at the first sink.
        let second = headlines(
            """
            source: { type: stdin }
            sinks:
              log: { type: file, path: x.jsonl }
              audit:
                type: stdout
              hook:
                type: http
                url: https://e.com/h
            """)
        #expect(second.count == 1)
        #expect(second.first?.hasPrefix("pipelines/p.yaml:6:3: error: sink 'hook' sends webhooks") == true)
        // Local sinks need no signature.
        let (loaded, diagnostics) = load(pipeline(withSink: "log: { type: file, path: x.jsonl }", sign: false))
        #expect(diagnostics.isEmpty)
        #expect(loaded?.signing == nil)
    }

    @Test func signWithOnlyEmptySecrets() throws {
        let error = try singleError(
            """
            source: { type: stdin }
            sign: { secrets: ["${PREV:-}"] }
            sinks: { out: { type: stdout } }
            """)
        #expect(error.location?.line == 2)
        #expect(error.message.contains("no active secret"))
    }

    @Test func standardWebhooksWithANonBase64Secret() throws {
        var environment = baseEnvironment
        environment["SW_SECRET"] = "whsec_!!not*base64"
        let error = try singleError(
            """
            source: { type: stdin }
            sign:
              scheme: standard-webhooks
              secrets: ["${SW_SECRET}"]
            sinks: { out: { type: stdout } }
            """, environment: environment)
        // At the secret itself, not at the 'scheme:' line that starts the sign mapping.
        #expect(error.location == SourceLocation(path: "pipelines/p.yaml", line: 4, column: 13))
        #expect(error.message.contains("is not valid base64"))
        #expect(!error.description.contains("!!not*base64"))
    }

    @Test func badSecretOfSeveralIsReportedAtItsOwnLine() throws {
        var environment = baseEnvironment
        environment["SW_SECRET"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        environment["SW_OLD"] = "whsec_%%%"
        let error = try singleError(
            """
            source: { type: stdin }
            sign:
              scheme: standard-webhooks
              secrets:
                - "${SW_SECRET}"
                - "${SW_OLD}"
            sinks: { out: { type: stdout } }
            """, environment: environment)
        #expect(error.location == SourceLocation(path: "pipelines/p.yaml", line: 6, column: 7))
        #expect(error.message.contains("secret #2"))
    }

    @Test func missingKeyOfABlockSinkPointsAtTheSinkName() {
        #expect(headlines(
            """
            source:
              path: events.jsonl
            sinks:
              first: { type: stdout }
              second:
                url: https://e.com/h
            """) == [
                "pipelines/p.yaml:1:1: error: source is missing required key 'type'",
                "pipelines/p.yaml:5:3: error: sink 'second' is missing required key 'type'",
            ])
    }

    @Test func unknownSignatureScheme() throws {
        let error = try singleError(
            """
            source: { type: stdin }
            sign: { scheme: standard-webhook, secrets: ["${HOOK_SECRET}"] }
            sinks: { out: { type: stdout } }
            """)
        #expect(error.headline.hasPrefix(
            "pipelines/p.yaml:2:17: error: unknown signature scheme 'standard-webhook'; did you mean 'standard-webhooks'?"))
    }

    @Test func missingRequiredKeysAndEmptyFiles() {
        #expect(headlines("pipeline: p\n") == [
            "pipelines/p.yaml:1:1: error: the pipeline is missing required key 'source'",
            "pipelines/p.yaml:1:1: error: the pipeline is missing required key 'sinks'",
        ])
        #expect(headlines("# nothing here\n") == ["pipelines/p.yaml:1:1: error: the file is empty; expected a pipeline mapping"])
        #expect(headlines("source: { type: stdin }\nsinks: {}\n") == [
            "pipelines/p.yaml:2:8: error: sinks is empty; a pipeline needs at least one sink"
        ])
    }

    @Test func badNames() {
        let lines = headlines(
            """
            pipeline: "my pipeline"
            source: { type: stdin }
            sinks:
              "bad/sink": { type: stdout }
            """)
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("pipelines/p.yaml:1:11: error: pipeline name 'my pipeline' must be"))
        #expect(lines[1].hasPrefix("pipelines/p.yaml:4:3: error: sink name 'bad/sink' must be"))
    }

    @Test func severalErrorsInOneFileAreAllReportedInFileOrder() {
        let text = """
            pipeline: broken
            descripton: typo in a key
            source: { type: file, path: events.jsonl }
            filter:
              events: [point.earned, tier.upgraded]
            sign:
              secrets: ["${MISSING_SECRET}"]
            sinks:
              hook:
                type: http
                url: http://hooks.example.com/loyali
              log: { type: fiel, path: out.jsonl }
              log: { type: stdout }
            """
        let (loaded, diagnostics) = load(text)
        #expect(loaded == nil)
        #expect(diagnostics.map(\.headline) == [
            "pipelines/p.yaml:2:1: error: unknown key 'descripton' in a pipeline file; did you mean 'description'?",
            "pipelines/p.yaml:5:12: error: filter.events: unknown event type 'point.earned'; did you mean 'points.earned'?",
            "pipelines/p.yaml:7:14: error: undefined variable 'MISSING_SECRET'; set it in the environment or write ${MISSING_SECRET:-default}",
            "pipelines/p.yaml:11:10: error: plain http:// to non-loopback host 'hooks.example.com' would expose payloads and signatures; use https, or set allow_insecure_http: true",
            "pipelines/p.yaml:12:16: error: unknown sink type 'fiel'; did you mean 'file'?",
            "pipelines/p.yaml:13:3: error: duplicate key 'log' in sinks; first defined at line 12, column 3",
        ])
        #expect(diagnostics.count == 6)
    }

    @Test
    func everyErrorInOneSinkIsReported() {
        let lines = headlines(
            """
            source: { type: stdin }
            sign: { secrets: ["${HOOK_SECRET}"] }
            sinks:
              hook:
                type: http
                url: http://hooks.example.com/x
                timeout: 10
                retry: { schedule: [0s, soon] }
            """)
        #expect(lines == [
            "pipelines/p.yaml:6:10: error: plain http:// to non-loopback host 'hooks.example.com' would expose payloads and signatures; use https, or set allow_insecure_http: true",
            "pipelines/p.yaml:7:14: error: timeout must be a duration such as 500ms, 10s, 5m, 2h or 1d, not '10'",
            "pipelines/p.yaml:8:29: error: retry.schedule item must be a duration such as 500ms, 10s, 5m, 2h or 1d, not 'soon'",
        ])
    }

    @Test
    func signErrorsAreReportedAlongsideOtherErrors() {
        var environment = baseEnvironment
        environment["SW_SECRET"] = "whsec_!!not*base64"
        let badSecret = headlines(
            """
            descripton: typo
            source: { type: stdin }
            sign: { scheme: standard-webhooks, secrets: ["${SW_SECRET}"] }
            sinks: { out: { type: stdout } }
            """, environment: environment)
        #expect(badSecret.count == 2, "\(badSecret)")
        #expect(badSecret.contains { $0.contains("is not valid base64") })
        let noSecret = headlines(
            """
            descripton: typo
            source: { type: stdin }
            sign: { secrets: ["${PREV:-}"] }
            sinks: { out: { type: stdout } }
            """)
        #expect(noSecret.count == 2, "\(noSecret)")
        #expect(noSecret.contains { $0.contains("no active secret") })
    }

    @Test func errorsInSeveralFilesAreAllReported() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try write("source: { type: stdin }\nsinks: { out: { type: stdot } }\n", to: directory.appendingPathComponent("a.yaml"))
        try write("source: { type: stdin }\nfilter: { events: [tier.upgrade] }\nsinks: { out: { type: stdout } }\n",
                  to: directory.appendingPathComponent("b.yaml"))
        let result = PipelineLoader(environment: baseEnvironment, registry: .builtIn).load(paths: [directory.path])
        #expect(result.diagnostics.map(\.headline) == [
            "\(directory.path)/a.yaml:2:23: error: unknown sink type 'stdot'; did you mean 'stdout'?",
            "\(directory.path)/b.yaml:2:20: error: filter.events: unknown event type 'tier.upgrade'; did you mean 'tier.upgraded'?",
        ])
    }

    @Test func renderedDiagnosticHasSourceLineAndCaret() throws {
        let error = try singleError(
            """
            pipeline: sync
            source: { type: stdin }
            filter:
              events: [point.earned]
            sinks: { out: { type: stdout } }
            """)
        #expect(error.description == """
            pipelines/p.yaml:4:12: error: filter.events: unknown event type 'point.earned'; did you mean 'points.earned'?
                events: [point.earned]
                         ^
            """)
    }

    @Test func caretCountsCharactersNotBytes() throws {
        // 👩‍💻 is three Unicode scalars and one character; é here is e + a combining accent.
        let line = "{ description: \"Zoe\u{301} \u{1F469}\u{200D}\u{1F4BB} \u{2728}\", source: { type: stdn }, sinks: { out: { type: stdout } } }"
        #expect(line.unicodeScalars.count > line.count + 2)
        let error = try singleError(line)
        let characters = Array(line)
        let expectedColumn = try #require(characters.indices.first { String(characters[$0...].prefix(4)) == "stdn" }) + 1
        #expect(error.location == SourceLocation(path: "pipelines/p.yaml", line: 1, column: expectedColumn))
        #expect(error.description == """
            pipelines/p.yaml:1:\(expectedColumn): error: unknown source type 'stdn'; did you mean 'stdin'?
              \(line)
              \(String(repeating: " ", count: expectedColumn - 1))^
            """)
    }

    @Test func aLongLineIsQuotedAsAWindowAroundTheColumn() throws {
        // One line of a megabyte: the error quotes a bounded window, cut with …, caret aligned.
        let filler = String(repeating: "x", count: 1_000_000)
        let line = "{ source: { type: stdin }, sinks: { out: { type: file, path: \"\(filler)\", pth: y } }, description: \"\(filler)\" }"
        let error = try #require(load(line).1.first { $0.message.hasPrefix("unknown key 'pth'") })
        let column = try #require(error.location?.column)
        #expect(Array(line)[column - 1] == "p")
        let shown = error.description.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(shown.count == 3)
        #expect(shown.allSatisfy { $0.count < 200 }, "quoted \(error.description.count) characters")
        let excerpt = try #require(error.excerpt)
        #expect(excerpt.text.hasPrefix("…") && excerpt.text.hasSuffix("…"))
        #expect(Array(excerpt.text)[excerpt.caretColumn - 1] == "p")
        #expect(shown[2].count - 2 == excerpt.caretColumn, "the caret sits under the column")

        // Near the start of a long line: no leading marker, caret at its column.
        let early = SourceExcerpt(line: "ab\tc" + filler, column: 4)
        #expect(early.text.hasPrefix("ab c") && early.text.hasSuffix("…") && early.caretColumn == 4)
        // Past the end of a long line: its tail, and the caret just after it.
        let late = SourceExcerpt(line: filler + "end", column: filler.count + 4)
        #expect(late.text.hasPrefix("…") && late.text.hasSuffix("end") && late.caretColumn == late.text.count + 1)
        // A short line is quoted whole.
        #expect(SourceExcerpt(line: "sinks: x", column: 8) == SourceExcerpt(text: "sinks: x", caretColumn: 8))
    }

    @Test func diagnosticWithoutSourceLineIsJustTheHeadline() {
        let diagnostic = Diagnostic(.error, at: nil, "x: no such file or directory")
        #expect(diagnostic.description == "error: x: no such file or directory")
        let warning = Diagnostic(.warning, at: SourceLocation(path: "f", line: 2, column: 3), "careful")
        #expect(warning.description == "f:2:3: warning: careful")
    }

    @Test func excludingEverythingIsAWarningNotAnError() throws {
        let (loaded, diagnostics) = load(
            """
            source: { type: stdin }
            filter: { events: ["points.*"], exclude: ["points.*"] }
            sinks: { out: { type: stdout } }
            """)
        #expect(loaded != nil)
        #expect(diagnostics.map(\.headline) == [
            "pipelines/p.yaml:2:42: warning: filter accepts no event type once 'exclude' is applied"
        ])
    }
}

// MARK: - Many files, and reloads that parse only what changed

@Suite struct ManyFilesTests {
    /// A stdin pipeline named `name` with one stdout sink.
    static func body(_ name: String, extra: String = "") -> String {
        "pipeline: \(name)\nsource: { type: stdin }\n\(extra)sinks: { out: { type: stdout } }\n"
    }

    @Test("folders are searched recursively: hidden files too, links to files listed, links to folders not followed")
    func folderWalk() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let elsewhere = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("sub/.hidden"), withIntermediateDirectories: true)
        try write(Self.body("a"), to: directory.appendingPathComponent("a.yaml"))
        try write(Self.body("b"), to: directory.appendingPathComponent("sub/b.yml"))
        try write(Self.body("c"), to: directory.appendingPathComponent("sub/.hidden/.c.yaml"))
        try write("notes", to: directory.appendingPathComponent("sub/notes.txt"))
        try write(Self.body("linked"), to: elsewhere.appendingPathComponent("linked.yaml"))
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/link.yaml", withDestinationPath: elsewhere.path + "/linked.yaml")
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/folder-link", withDestinationPath: elsewhere.path)
        let files = PipelineLoader.pipelineFiles(in: directory.path)
        #expect(files == ["a.yaml", "link.yaml", "sub/.hidden/.c.yaml", "sub/b.yml"].map { directory.path + "/" + $0 })
        #expect(PipelineLoader.pipelineFiles(in: directory.path + "/") == files)
        #expect(PipelineLoader.defaultName(for: "pipelines/sub/.c.yaml") == ".c")
        #expect(PipelineLoader.defaultName(for: "x.tar.yaml") == "x.tar")
        #expect(PipelineLoader.defaultName(for: ".yaml") == ".yaml")
    }

    @Test("files are parsed on every core, with the result of one after another: order kept, a manifest's problems once")
    func parallelLoadKeepsOrder() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let plugins = directory.appendingPathComponent("plugins/broken")
        try FileManager.default.createDirectory(at: plugins, withIntermediateDirectories: true)
        try write("name: broken\nkind: transform\ndescription: d\ncommand: [python3, x.py]\ntimeot: 5s\n", to: plugins.appendingPathComponent("plugin.yaml"))
        let pipelines = directory.appendingPathComponent("pipelines")
        try FileManager.default.createDirectory(at: pipelines, withIntermediateDirectories: true)
        // Enough files for several workers; every fifth uses the broken plugin, one has a typo.
        for index in 0..<120 {
            let extra = index % 5 == 2 ? "transform: [{ plugin: broken }]\n" : index == 77 ? "filter: { events: [point.earned] }\n" : ""
            try write(Self.body(String(format: "p%03d", index), extra: extra), to: pipelines.appendingPathComponent(String(format: "p%03d.yaml", index)))
        }
        let environment = baseEnvironment.merging([PluginCatalog.environmentVariable: plugins.deletingLastPathComponent().path]) { $1 }
        let loader = PipelineLoader(environment: environment, registry: .builtIn)
        let result = loader.load(paths: [pipelines.path])
        let manifestProblems = result.diagnostics.filter { $0.location?.path.hasSuffix("broken/plugin.yaml") == true }
        #expect(manifestProblems.count == 1, "\(result.diagnostics.map(\.headline))")
        // Reported where the first file using the plugin is, then each file's own errors in order.
        var expected: [Diagnostic] = []
        for index in 0..<120 {
            let file = pipelines.path + String(format: "/p%03d.yaml", index)
            let text = try String(contentsOfFile: file, encoding: .utf8)
            expected += loader.load(file: file, text: text).1
        }
        #expect(result.diagnostics.filter { $0.location?.path.hasSuffix("plugin.yaml") != true }.map(\.headline)
            == expected.filter { $0.location?.path.hasSuffix("plugin.yaml") != true }.map(\.headline))
        // With the first file using the plugin: after its own errors, before the next file's.
        let manifestAt = try #require(result.diagnostics.firstIndex { $0.location?.path.hasSuffix("plugin.yaml") == true })
        #expect(result.diagnostics[manifestAt - 1].location?.path.hasSuffix("p002.yaml") == true)
        #expect(result.diagnostics[manifestAt + 1].location?.path.hasSuffix("p007.yaml") == true)
    }

    @Test("with a cache, a load parses only new and changed files and keeps the other definitions as they were")
    func cacheParsesOnlyChangedFiles() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let secretFile = directory.appendingPathComponent("secret.txt")
        try write("whsec_from_a_file\n", to: secretFile)
        for name in ["a", "b", "c"] { try write(Self.body(name), to: directory.appendingPathComponent("\(name).yaml")) }
        try write(Self.body("d", extra: "sign: { secret_file: \"\(secretFile.path)\" }\n"), to: directory.appendingPathComponent("d.yaml"))
        let loader = PipelineLoader(environment: baseEnvironment, registry: .builtIn)
        let cache = PipelineFileCache()
        let first = loader.load(paths: [directory.path], cache: cache)
        #expect(!first.hasErrors, "\(first.diagnostics.map(\.headline))")
        #expect(first.parsedFiles.count == 4)
        // Nothing changed: only the pipeline reading another file is parsed again.
        #expect(loader.load(paths: [directory.path], cache: cache).parsedFiles == [directory.path + "/d.yaml"])
        // Rewritten with the same bytes (new modification time): the contents show it unchanged.
        Thread.sleep(forTimeInterval: 0.01)
        try write(Self.body("a"), to: directory.appendingPathComponent("a.yaml"))
        // Changed, and a new file.
        try write(Self.body("b", extra: "description: now described\n"), to: directory.appendingPathComponent("b.yaml"))
        try write(Self.body("e"), to: directory.appendingPathComponent("e.yaml"))
        let second = loader.load(paths: [directory.path], cache: cache)
        #expect(second.parsedFiles == Set(["b", "d", "e"].map { directory.path + "/\($0).yaml" }))
        #expect(second.pipelines.map(\.name) == ["a", "b", "c", "d", "e"])
        #expect(second.pipelines[1].description == "now described")
        // A file removed is forgotten; a file that breaks is reported, and parsed again once fixed.
        try FileManager.default.removeItem(at: directory.appendingPathComponent("e.yaml"))
        try write("pipeline: c\nsinks: [", to: directory.appendingPathComponent("c.yaml"))
        let broken = loader.load(paths: [directory.path], cache: cache)
        #expect(broken.hasErrors)
        #expect(broken.files.count == 4)
        #expect(cache.count == 3)
        try write(Self.body("c"), to: directory.appendingPathComponent("c.yaml"))
        let fixed = loader.load(paths: [directory.path], cache: cache)
        #expect(!fixed.hasErrors)
        #expect(fixed.parsedFiles == Set(["c", "d"].map { directory.path + "/\($0).yaml" }))
    }
}

// MARK: - Undefined secrets in validate

@Suite struct UndefinedSensitiveVariableTests {
    /// Loads `text` with no environment, as `validate` does (undefined secrets are warnings)
    /// or, with `strict`, as run and serve do.
    private func load(_ text: String, strict: Bool = false) -> (PipelineDefinition?, [Diagnostic]) {
        var loader = PipelineLoader(environment: [:], registry: .builtIn)
        loader.undefinedSensitiveVariables = strict ? .error : .warning
        let (result, diagnostics) = loader.load(file: "pipelines/p.yaml", text: text)
        return (result?.0, diagnostics)
    }

    static let everySensitivePlace = """
        source: { type: http, listen: 127.0.0.1:8787, token: "${INGEST_TOKEN}" }
        sign:
          scheme: standard-webhooks
          secrets: ["${HOOK_SECRET}", "${HOOK_SECRET_PREVIOUS:-}"]
        sinks:
          whole: { type: http, url: "${WHOLE_URL}", headers: { Authorization: "Bearer ${API_TOKEN}" } }
          parts: { type: http, url: "https://${HOST}:${PORT}/in?key=${KEY}" }
          plain: { type: http, url: "http://${PLAIN_HOST}/in" }
          based: { type: http, url: "${BASE}/in" }
        """

    @Test func undefinedSecretsTokensAndURLPartsAreWarningsAtTheirReference() throws {
        let (loaded, diagnostics) = load(Self.everySensitivePlace)
        let pipeline = try #require(loaded, "\(diagnostics.map(\.headline))")
        #expect(diagnostics.allSatisfy { $0.severity == .warning })
        #expect(diagnostics.map { "\($0.location!.line):\($0.location!.column) \($0.message.prefix { $0 != "(" })" } == [
            "1:55 undefined variable 'INGEST_TOKEN' in source.token ",
            "4:14 undefined variable 'HOOK_SECRET' in sign.secrets ",
            "6:30 undefined variable 'WHOLE_URL' in url ",
            "6:79 undefined variable 'API_TOKEN' in header 'Authorization' ",
            "7:38 undefined variable 'HOST' in url ",
            "7:46 undefined variable 'PORT' in url ",
            "7:61 undefined variable 'KEY' in url ",
            "8:37 undefined variable 'PLAIN_HOST' in url ",
            "9:30 undefined variable 'BASE' in url ",
        ])
        #expect(diagnostics[0].message.hasSuffix("checked as if it were set, but run, serve and test need it (validate --strict-env makes this an error)"))
        // Checked as if set: signed (the standard-webhooks stand-in is well formed), URLs shown as written.
        #expect(pipeline.signing?.schemeName == "standard-webhooks")
        #expect(pipeline.sinks.map(\.sink.target) == [
            "${WHOLE_URL}", "https://${HOST}:${PORT}/in?key=${KEY}", "http://${PLAIN_HOST}/in", "${BASE}/in",
        ])
    }

    @Test func strictModeKeepsThemErrors() {
        let (loaded, diagnostics) = load(Self.everySensitivePlace, strict: true)
        #expect(loaded == nil)
        // One error per value: its first undefined variable.
        #expect(diagnostics.filter { $0.severity == .error }.count == 7)
        #expect(diagnostics.first?.headline == "pipelines/p.yaml:1:55: error: undefined variable 'INGEST_TOKEN'; set it in the environment or write ${INGEST_TOKEN:-default}")
        // The default for every loader is strict: run, serve and test need the values.
        #expect(PipelineLoader(environment: [:]).undefinedSensitiveVariables == .error)
    }

    @Test func formatChecksApplyOnlyToValuesThatAreSet() {
        let text = """
            source: { type: stdin }
            sign:
              scheme: standard-webhooks
              secrets: ["${MISSING_SECRET}", "${BAD_SECRET:-}"]
            sinks: { hook: { type: http, url: "http://${HOST}/in" } }
            """
        var loader = PipelineLoader(environment: ["BAD_SECRET": "whsec_!!not*base64"], registry: .builtIn)
        loader.undefinedSensitiveVariables = .warning
        let (_, diagnostics) = loader.load(file: "p.yaml", text: text)
        #expect(diagnostics.filter { $0.severity == .error }.map(\.headline) == [
            "p.yaml:4:34: error: sign: standard-webhooks secret #2: secret whsec_…(redacted) is not valid base64 after the 'whsec_' prefix (standard-webhooks secrets look like whsec_<base64>)"
        ])
        // What the written parts of a URL decide is still checked: this host is never loopback.
        for url in ["http://hooks.example.com/${PATH_PART}", "http://${SUB}.example.com/in", "ftp://${HOST}/in"] {
            let (_, written) = load("source: { type: stdin }\nsign: { secrets: [\"${S}\"] }\nsinks: { hook: { type: http, url: \"\(url)\" } }")
            #expect(written.filter { $0.severity == .error }.count == 1, "\(url)")
            #expect(written.contains { $0.message.contains(url.hasPrefix("ftp") ? "unsupported URL scheme" : "plain http:// to non-loopback") }, "\(url)")
        }
    }

    @Test func otherUndefinedVariablesStayErrors() {
        let (loaded, diagnostics) = load(
            """
            source: { type: file, path: "${EVENTS}" }
            sign: { secrets: ["${S}"] }
            sinks: { hook: { type: http, url: "https://h.example.com/", timeout: "${TIMEOUT}" } }
            """)
        #expect(loaded == nil)
        #expect(diagnostics.filter { $0.severity == .error }.map { $0.location!.line } == [1, 3])
    }
}
