import Foundation
import LoyaliHooks

/// `loyali-hooks serve [PATH…]`: every pipeline as a daemon, with HTTP ingest and the admin API.
enum ServeCommand {
    static let usage = """
        USAGE: loyali-hooks serve [PATH…] [--state DIR] [--store URL] [--node-id ID] [--lease 60s]
                                  [--admin 127.0.0.1:8788 | --admin off]
                                  [--admin-token-file FILE] [--admin-host NAME…] [--grace 10s] [--log-format logfmt|json]
                                  [--max-body 1048576] [--ingest-max-connections 4096] [--idle-timeout 10s]
                                  [--request-timeout 10s] [--ingest-threads 2] [--no-watch] [--rejects FILE]
                                  [--max-connections N] [--max-connections-per-host 32] [--allow-network CIDR]…

        Runs every pipeline (default: pipelines/) until SIGTERM: 'http' sources are received on their
        listen address and path (POST one event as application/json or a batch as
        application/x-ndjson; 202 only once the deliveries are durable), other sources are read as
        'run' reads them, and every delivery is sent, signed, retried and logged as in 'run'. An
        'http' source needs a bearer token (token: "${INGEST_TOKEN}"), or auth: none, which only a
        loopback listen address may use.

        The admin listener serves GET /healthz, GET /readyz, GET /metrics (Prometheus), a JSON API
        under /api/ mirroring the CLI (deliveries, resend, stats, test, routes; docs/openapi.yaml)
        and the dashboard at / (log in with the admin token). Its bearer token comes from
        --admin-token-file or $LOYALI_HOOKS_ADMIN_TOKEN and is required on /api/ and /metrics; a
        non-loopback --admin needs one. Without one, serve writes a login token to admin-token in
        the state directory (0600): resend, reload, test and the dashboard need it even on loopback.

        SIGHUP or a change to a pipeline file reloads the configuration: an invalid one is logged
        with path:line:col errors and the running one is kept; deliveries already queued finish
        under the configuration they were created with. SIGTERM or SIGINT stops accepting, answers
        every request already received, lets in-flight attempts finish within --grace, and exits 0.

        OPTIONS:
        \(StateOptions.help)
        \(StateOptions.nodeHelp)
          --admin ADDR          admin listener host:port, or 'off' (default 127.0.0.1:8788)
          --admin-token-file F  file holding the admin bearer token (else $LOYALI_HOOKS_ADMIN_TOKEN)
          --admin-host NAME     a name the admin listener answers to besides its address (and localhost
                                on loopback), e.g. behind a proxy (repeatable; other Host headers get
                                403: DNS rebinding)
          --grace D             at shutdown, let in-flight attempts finish for up to D (default 10s, at most 1d)
          --log-format F        logfmt (default) or json, on stderr
          --max-body N          largest ingest body in bytes (default 1048576); larger get 413
          --ingest-max-connections N
                                ingest connections at once (default 4096, within the descriptor limit)
          --idle-timeout D      close a silent connection, idle keep-alive included (default 10s, at most 1d)
          --request-timeout D   a request must arrive whole within D of its first byte, or its
                                connection is cut (slowloris; default 10s, at most 1d)
          --ingest-threads N    ingest listener threads (default 2)
          --no-watch            reload on SIGHUP or POST /api/reload only, not on file changes
          --rejects FILE        also append rejected lines of file sources to FILE (JSON lines)
        \(ConnectionOptions.help)
        EXAMPLES:
          INGEST_TOKEN=… loyali-hooks serve pipelines/ --state /var/lib/loyali-hooks
          curl -H "Authorization: Bearer $INGEST_TOKEN" -H 'Content-Type: application/json' \\
               -d '{"event_type":"points.earned","data":{"customer_id":"cust_1","amount":150,"new_balance":2350}}' \\
               http://127.0.0.1:8787/events
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(
            raw,
            options: [
                "--admin", "--admin-token-file", "--admin-host", "--grace", "--log-format", "--max-body", "--ingest-max-connections",
                "--idle-timeout", "--request-timeout", "--ingest-threads", "--rejects",
            ] + StateOptions.names + StateOptions.nodeNames + ConnectionOptions.names,
            flags: ["--no-watch"])
        let environment = ProcessInfo.processInfo.environment
        var configuration = ServeDaemon.Configuration(
            paths: args.positionals.isEmpty ? ["pipelines"] : args.positionals,
            stateDirectory: StateOptions.directory(args))
        configuration.store = try StateOptions.location(args)
        configuration.storeOptions = try StateOptions.storeOptions(args)
        let logFormat = try args.logFormat()
        configuration.rejectsPath = args.value("--rejects")
        if let grace = args.value("--grace") { configuration.grace = try duration(grace, "--grace") }
        if args.has("--no-watch") { configuration.watchInterval = nil }
        try applyLimits(args, to: &configuration.ingestLimits)

        let adminText = args.value("--admin") ?? "127.0.0.1:8788"
        if adminText == "off" {
            configuration.admin = nil
        } else {
            guard let address = ListenAddress(adminText) else {
                throw .usage("--admin must be host:port with a numeric address or localhost, or 'off', not '\(adminText)'")
            }
            configuration.admin = address
        }
        configuration.adminToken = try adminToken(args, environment: environment)
        configuration.adminHosts = args.all("--admin-host")
        if let admin = configuration.admin, !admin.isLoopback, configuration.adminToken == nil {
            throw .usage("--admin \(admin) is reachable from other machines: give --admin-token-file or LOYALI_HOOKS_ADMIN_TOKEN")
        }

        // Ingest connections are descriptors too: outbound connections get what they leave.
        let ingestDescriptors = configuration.ingestLimits.maxConnections
        try ConnectionOptions.install(args, otherDescriptors: ingestDescriptors)
        // A daemon: a closed log pipe must not end it (see StandardStream).
        StandardStream.ignoreBrokenPipes()
        let logger = Logger(format: logFormat)
        let daemon = ServeDaemon(configuration: configuration, logger: logger)
        do {
            try daemon.start()
        } catch .configuration(let diagnostics) {
            Reports.diagnostics(diagnostics, json: false)
            throw .config
        } catch .stateLocked(let failure) {
            Terminal.err("error: \(failure)")
            throw .config
        } catch .listen(let failure) where failure.isAddressProblem {
            Terminal.err(failure.description)
            throw .config
        } catch {
            throw .failed("\(error)")
        }
        let signals = SignalTrap([SIGTERM, SIGINT]) {
            Thread.detachNewThread { daemon.shutdown() }
        }
        let hangups = SignalTrap([SIGHUP]) {
            Thread.detachNewThread { daemon.reload(reason: "SIGHUP") }
        }
        daemon.waitUntilStopped()
        _ = (signals, hangups)
        let counters = daemon.shutdown()
        Terminal.err("stopped: " + Reports.countersLine(counters))
    }

    /// The ingest limits from their options.
    static func applyLimits(_ args: Arguments, to limits: inout HTTPServer.Limits) throws(CLIError) {
        if let value = try args.integer("--max-body") {
            guard value > 0 else { throw .usage("--max-body must be positive") }
            limits.maxBodyBytes = Int(value)
        }
        if let value = try args.integer("--ingest-max-connections") {
            guard value > 0 else { throw .usage("--ingest-max-connections must be positive") }
            limits.maxConnections = Int(value)
        }
        if let value = try args.integer("--ingest-threads") {
            guard (1...64).contains(value) else { throw .usage("--ingest-threads must be from 1 to 64") }
            limits.threads = Int(value)
        }
        if let text = args.value("--idle-timeout") {
            let seconds = try duration(text, "--idle-timeout").totalMilliseconds / 1000
            guard seconds >= 1 else { throw .usage("--idle-timeout must be at least 1s") }
            limits.idleTimeoutSeconds = Int(seconds)
        }
        if let text = args.value("--request-timeout") { limits.requestTimeout = try duration(text, "--request-timeout") }
    }

    /// A duration flag, at most `maximum` (every wait and timeout flag shares `Duration.maximumWait`).
    static func duration(_ text: String, _ option: String, maximum: Duration = .maximumWait) throws(CLIError) -> Duration {
        switch Duration.parse(config: text, maximum: maximum) {
        case .success(let parsed): return parsed
        case .failure(.malformed): throw .usage("\(option) must be a duration such as 10s, not '\(text)'")
        case .failure(.tooLong(let maximum)): throw .usage("\(option) must be at most \(maximum.configDescription), not '\(text)'")
        }
    }

    /// `--admin-token-file`, else `LOYALI_HOOKS_ADMIN_TOKEN`, else none.
    static func adminToken(_ args: Arguments, environment: [String: String]) throws(CLIError) -> BearerToken? {
        if let path = args.value("--admin-token-file") {
            guard let data = FileManager.default.contents(atPath: path) else { throw .usage("--admin-token-file \(path): cannot be read") }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let token = BearerToken(text) else { throw .usage("--admin-token-file \(path): the file is empty") }
            return token
        }
        return environment["LOYALI_HOOKS_ADMIN_TOKEN"].flatMap(BearerToken.init)
    }
}
