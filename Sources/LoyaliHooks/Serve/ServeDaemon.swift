import Foundation
import Synchronization

/// `loyali-hooks serve`: every pipeline running as a daemon.
///
/// - **Sources:** `http` sources are served by ingest listeners (one per `listen` address, every
///   `path` on it); file and other sources are read by the runner as in `run`.
/// - **Delivery:** a ``DeliveryRunner`` in follow mode claims, sends and records, with retries.
/// - **Admin:** probes, Prometheus metrics and the JSON API (``AdminEndpoint``) on their own
///   listener.
/// - **Reload:** ``reload(reason:)`` (SIGHUP, a watched file change, or `POST /api/reload`)
///   loads the configuration again, parsing only the files that changed (``PipelineFileCache``).
///   An invalid one is logged with `path:line:col` errors and the old one keeps running. A valid
///   one becomes the next generation in place: only the pipelines that changed, were added or
///   were removed are swapped in the runner (``DeliveryRunner/reconfigure(pipelines:changed:)``);
///   their deliveries created before the switch finish with the sink definitions they were made
///   for, and every other pipeline keeps its lanes, in-flight attempts and connections, so its
///   delivery never pauses.
/// - **Shutdown:** ``shutdown()`` stops accepting, answers every request whose events are being
///   stored, lets in-flight attempts finish within the grace period, and returns.
///
/// Every blocking step runs on dedicated threads (libmicrohttpd's, the committer's, the
/// runners'), never on Swift's cooperative pool.
public final class ServeDaemon: Sendable {
    /// Settings of one daemon.
    public struct Configuration: Sendable {
        /// Pipeline files or folders.
        public var paths: [String]
        /// The state directory: the SQLite store's home unless ``store`` says otherwise.
        public var stateDirectory: String
        /// The state store (`--store`); `nil` for the SQLite store in ``stateDirectory``.
        public var store: StoreLocation?
        /// The node id and lease length this daemon claims and records with.
        public var storeOptions = StoreOptions()
        /// Where the admin listener binds; `nil` for none.
        public var admin: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8788)
        /// The token `/api/` and `/metrics` require; `nil` for none (loopback only). Without one,
        /// the daemon makes up a login token for the dashboard and the mutating endpoints and
        /// writes it to `admin-token` in the state directory (mode 0600).
        public var adminToken: BearerToken?
        /// Names besides the admin address (and, on loopback, `localhost`) that clients may use to
        /// reach the admin listener (`Host`); any other name is refused (DNS rebinding). A listener
        /// on every interface (`0.0.0.0`, `::`) also answers to any IP address.
        public var adminHosts: [String] = []
        /// Limits of the ingest listeners.
        public var ingestLimits = HTTPServer.Limits()
        /// Limits of the admin listener.
        public var adminLimits: HTTPServer.Limits = {
            var limits = HTTPServer.Limits()
            limits.maxBodyBytes = 64 << 10
            limits.maxConnections = 64
            limits.threads = 1
            return limits
        }()
        /// How long in-flight attempts may finish at shutdown.
        public var grace = Duration.seconds(10)
        /// How often pipeline files are checked for changes; `nil` to reload on request only.
        public var watchInterval: Duration? = .milliseconds(500)
        /// Rejected lines of file sources are appended here too.
        public var rejectsPath: String?
        /// Variables for `${VAR}` in pipeline files.
        public var environment: [String: String] = ProcessInfo.processInfo.environment
        /// Stage kinds pipeline files may use.
        public var registry = StageRegistry.builtIn
        /// The time source.
        public var clock: any DeliveryClock = SystemClock()
        /// Test hook: called with the runners' store once it is open (e.g. to cap its size and
        /// simulate a full disk).
        var prepareStore: (@Sendable (any DeliveryStore) throws -> Void)?

        /// Where the store is: ``store``, else the SQLite store in ``stateDirectory``.
        public var storeLocation: StoreLocation { store ?? .sqlite(directory: stateDirectory) }

        /// Settings for `paths` with the store in `stateDirectory`; everything else defaults.
        public init(paths: [String], stateDirectory: String) {
            self.paths = paths
            self.stateDirectory = stateDirectory
        }
    }

    /// Logs a warning when `pipelines` can need more outbound connections than the process-wide
    /// limits or the file descriptors left beside the ingest connections allow: deliveries then
    /// wait for a connection, and the operator should know why.
    private func warnAboutConnections(_ pipelines: [PipelineDefinition]) {
        let budget = ConnectionLimits.descriptorBudget(otherDescriptors: configuration.ingestLimits.maxConnections)
        if let warning = LazyHTTPClient.process.limits.descriptorWarning(for: pipelines, budget: budget) {
            logger.log(.warn, warning)
        }
    }

    /// Why the daemon could not start.
    public enum StartError: Error, CustomStringConvertible {
        /// The pipeline files have errors (each reads `path:line:col: error: …`).
        case configuration([Diagnostic])
        /// The state store could not be opened (`directory` is its location, never a password).
        case store(directory: String, message: String)
        /// A listener could not bind.
        case listen(HTTPServerError)
        /// Another runner holds the state directory, or it cannot be locked.
        case stateLocked(StateDirectoryLock.Failure)

        public var description: String {
            switch self {
            case .configuration(let diagnostics): diagnostics.map(\.description).joined(separator: "\n")
            case .store(let directory, let message): "\(directory): error: cannot open the state store: \(message)"
            case .listen(let error): error.description
            case .stateLocked(let failure): failure.description
            }
        }
    }

    private struct Listener {
        let endpoint: IngestEndpoint
        let server: HTTPServer
    }

    private struct Running {
        /// Held for the daemon's lifetime: one runner per SQLite store (`nil` for a shared store).
        let lock: StateDirectoryLock?
        let store: any DeliveryStore
        let committer: IngestCommitter
        /// SQLite's WAL checkpoints (`nil` for other engines).
        let checkpointer: WALCheckpointer?
        let context: AdminContext
        var admin: HTTPServer?
        var generations: [ServeGeneration]
        var listeners: [ListenAddress: Listener]
        var watcher: PipelineWatcher?
        /// The configuration generation running now: 1, then +1 per successful reload.
        var configurationGeneration = 1
        /// Counters of generations that have finished.
        var finishedCounters = DeliveryRunner.Counters()
        var stopping = false
        /// Every runner's counters, once shut down.
        var finalCounters: DeliveryRunner.Counters?
    }

    private let configuration: Configuration
    private let logger: Logger
    /// The counters behind `/metrics`.
    public let metrics = ServeMetrics()
    private let running = Mutex<Running?>(nil)
    /// Serializes start, reload and shutdown; held for their whole (blocking) duration.
    private let control = Mutex<Void>(())
    private let stopped = Wakeup()
    private let hasStopped = Atomic<Bool>(false)
    /// The pipeline files as last loaded, so a reload parses only those that changed.
    private let fileCache = PipelineFileCache()

    /// A daemon that does nothing until ``start()``.
    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// A daemon dropped while running is shut down first, so no listener or thread outlives it.
    deinit { shutdown() }

    // MARK: Start

    /// Loads the pipelines, opens the store, starts the runner, binds the ingest and admin
    /// listeners, and marks the daemon ready. Blocks until all of that is done.
    public func start() throws(StartError) {
        try control.withLock { _ throws(StartError) in try startLocked() }
    }

    private func startLocked() throws(StartError) {
        // One runner per SQLite store, checked before anything starts (see StateDirectoryLock);
        // a shared store's nodes coordinate through its leases instead.
        let location = configuration.storeLocation
        var lock: StateDirectoryLock?
        if case .sqlite(let directory) = location {
            do {
                lock = try StateDirectoryLock(directory: directory)
            } catch {
                throw .stateLocked(error)
            }
        }
        let loaded = PipelineLoader(environment: configuration.environment, registry: configuration.registry)
            .load(paths: configuration.paths, cache: fileCache)
        for warning in loaded.diagnostics where warning.severity != .error { logger.log(.warn, warning.description) }
        guard !loaded.hasErrors else { throw .configuration(loaded.diagnostics) }
        warnAboutConnections(loaded.pipelines)
        // Plugin processes start with their pipelines: one that cannot start is a config error.
        let pluginErrors = PluginRuntime.start(loaded.pipelines, includingSinks: true, logger: logger)
        guard pluginErrors.isEmpty else {
            PluginRuntime.shutdown(loaded.pipelines)
            throw .configuration(pluginErrors)
        }
        let groups: [ListenAddress: [String: [PipelineDefinition]]]
        do {
            groups = try Self.ingestGroups(loaded.pipelines)
        } catch {
            throw .configuration(error.diagnostics)
        }
        for (address, paths) in groups where !address.isLoopback {
            for (path, pipelines) in paths where (pipelines[0].source as? HTTPSource)?.token == nil {
                logger.log(.warn, "ingest endpoint reachable from other machines without a token", [
                    "endpoint": "\(address)\(path)", "pipeline": pipelines[0].name,
                ])
            }
        }
        let store: any DeliveryStore
        let adminStore: any DeliveryStore
        var checkpointer: WALCheckpointer?
        do {
            store = try location.open(options: configuration.storeOptions)
            adminStore = try location.open(options: configuration.storeOptions)
            if case .sqlite(let directory) = location, let sqlite = store as? SQLiteDeliveryStore {
                // Group-committed ingest appends tens of MB of WAL per second: checkpoints run on
                // a thread of their own, and the writer's own is only a backstop.
                try sqlite.setWALCheckpointInterval(pages: Self.walBackstopPages)
                checkpointer = try WALCheckpointer(directory: directory, interval: .milliseconds(200), logger: logger)
            }
            try configuration.prepareStore?(store)
        } catch {
            checkpointer?.stop()
            throw .store(directory: location.description, message: "\(error)")
        }
        let committer = IngestCommitter(logger: logger)
        var loginToken = configuration.adminToken
        if loginToken == nil, configuration.admin != nil {
            let path = SQLiteDeliveryStore.file("admin-token", in: configuration.stateDirectory)
            let made = AdminSessions.randomToken()
            do {
                // With a PostgreSQL store the state directory may not exist yet.
                try SQLiteDeliveryStore.createStateDirectory(configuration.stateDirectory)
                try Self.writePrivate(made + "\n", to: path)
            } catch {
                throw .store(directory: configuration.stateDirectory, message: "cannot write the admin login token to \(path): \(error)")
            }
            loginToken = BearerToken(made)
            logger.log(.info, "admin login token written", ["file": path])
        }
        let context = AdminContext(
            store: adminStore, metrics: metrics, token: configuration.adminToken, clock: configuration.clock, loginToken: loginToken,
            hostNames: AdminGuard.hostNames(listeningOn: configuration.admin?.host ?? "127.0.0.1", extra: configuration.adminHosts),
            environment: configuration.environment)
        metrics.register(loaded.pipelines)
        metrics.started(generation: 1)
        let generation = ServeGeneration(
            number: 1,
            runner: makeRunner(loaded.pipelines, store: store, window: .all, recoversInFlight: true))

        var listeners: [ListenAddress: Listener] = [:]
        var admin: HTTPServer?
        do {
            for (address, paths) in groups {
                let endpoint = IngestEndpoint(
                    routes: Self.routes(paths, runner: generation.runner), committer: committer, metrics: metrics, logger: logger,
                    clock: configuration.clock)
                listeners[address] = Listener(endpoint: endpoint, server: try HTTPServer(address: address, limits: configuration.ingestLimits, handler: endpoint))
            }
            if let address = configuration.admin {
                admin = try HTTPServer(address: address, limits: configuration.adminLimits, handler: AdminEndpoint(context: context))
            }
        } catch {
            for listener in listeners.values { listener.server.stop(within: .zero) }
            committer.stop()
            checkpointer?.stop()
            throw .listen(error)
        }
        running.withLock {
            $0 = Running(
                lock: lock, store: store, committer: committer, checkpointer: checkpointer, context: context, admin: admin, generations: [generation],
                listeners: listeners, watcher: nil)
        }
        generation.start(logger: logger) { [weak self] finished in self?.generationFinished(finished) }
        context.setHooks(AdminContext.Hooks(
            reload: { [weak self] in self?.reload(reason: "api") },
            resent: { [weak self] in self?.pokeRunners() },
            commits: { [committer] in
                let totals = committer.totals
                return (totals.commits, totals.rows, totals.requests)
            },
            writeFailure: { [store] in store.writeFailure }))
        context.setConfiguration(loaded.pipelines, generation: 1)
        context.setRunners(1)
        if let interval = configuration.watchInterval {
            let watcher = PipelineWatcher(paths: configuration.paths, interval: interval) { [weak self] in
                // Reload off the watcher's thread so stopping the watcher never waits on a reload.
                guard let self else { return }
                Thread.detachNewThread { [self] in _ = reload(reason: "file change") }
            }
            running.withLock { $0?.watcher = watcher }
        }
        context.setReady(true)
        logger.log(.info, "serving", [
            "pipelines": String(loaded.pipelines.count),
            "ingest": listeners.keys.map { key in
                let bound = listeners[key]!.server.address
                return groups[key]!.keys.sorted().map { "\(bound)\($0)" }.joined(separator: ",")
            }.sorted().joined(separator: ","),
            "admin": admin.map { $0.address.description } ?? "off",
            "store": "\(location.engine.rawValue) \(location)",
            "node": store.nodeID,
        ])
    }

    /// Writes `text` to `path` readable by the owner only: created 0600, never widened.
    static func writePrivate(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, SQLiteDeliveryStore.fileMode)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        guard fchmod(fd, SQLiteDeliveryStore.fileMode) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// WAL pages after which the writing connection checkpoints by itself (~160 MB), should the
    /// checkpoint thread fall behind.
    static let walBackstopPages = 40_000

    private func makeRunner(
        _ pipelines: [PipelineDefinition], store: any DeliveryStore, window: CreationWindow, recoversInFlight: Bool
    ) -> DeliveryRunner {
        var options = DeliveryRunner.Options()
        options.mode = .follow
        options.grace = configuration.grace
        options.rejectsPath = configuration.rejectsPath
        options.externalSourceKinds = ["http"]
        options.window = window
        options.recoversInFlight = recoversInFlight
        options.observer = metrics
        // A full disk pauses reading file sources; it resumes once writes go through again.
        options.retriesStoreFailures = true
        // A swapped pipeline's plugin processes go once its old lanes have settled.
        options.onRetiredPipelineFinished = { PluginRuntime.shutdown([$0]) }
        return DeliveryRunner(pipelines: pipelines, store: store, clock: configuration.clock, options: options, logger: logger)
    }

    // MARK: Ingest routing

    /// Conflicting `http` sources.
    struct RoutingError: Error {
        var diagnostics: [Diagnostic]
    }

    /// The pipelines of each ingest path, grouped by listen address.
    static func ingestGroups(_ pipelines: [PipelineDefinition]) throws(RoutingError) -> [ListenAddress: [String: [PipelineDefinition]]] {
        var groups: [ListenAddress: [String: [PipelineDefinition]]] = [:]
        var problems: [Diagnostic] = []
        for pipeline in pipelines {
            guard let source = pipeline.source as? HTTPSource else { continue }
            guard let address = ListenAddress(source.listen) else {
                problems.append(Diagnostic(.error, at: SourceLocation(path: pipeline.file, line: 1, column: 1), "source.listen '\(source.listen)' is not host:port"))
                continue
            }
            if let first = groups[address]?[source.path]?.first, let other = first.source as? HTTPSource, other.token != source.token {
                problems.append(Diagnostic(
                    .error, at: SourceLocation(path: pipeline.file, line: 1, column: 1),
                    "pipeline '\(pipeline.name)' receives \(source.identity) like pipeline '\(first.name)' (\(first.file)) but with a different token; one endpoint has one token"))
                continue
            }
            groups[address, default: [:]][source.path, default: []].append(pipeline)
        }
        guard problems.isEmpty else { throw RoutingError(diagnostics: problems) }
        return groups
    }

    static func routes(_ paths: [String: [PipelineDefinition]], runner: DeliveryRunner) -> [String: IngestEndpoint.Route] {
        paths.mapValues { pipelines in
            IngestEndpoint.Route(source: pipelines[0].source as! HTTPSource, planners: pipelines.map(DeliveryPlanner.init), runner: runner)
        }
    }

    // MARK: Reload

    /// Loads the configuration again, parsing only the files that changed. On success the
    /// pipelines that changed (or were added or removed) are swapped in the running runner and
    /// every other pipeline carries on untouched; returns `nil`. On errors they are logged as
    /// `path:line:col: error: …`, the old configuration keeps running, and they are returned.
    /// Blocks until the switch is done (or refused).
    @discardableResult
    public func reload(reason: String) -> [Diagnostic]? {
        control.withLock { _ in reloadLocked(reason: reason) }
    }

    private func reloadLocked(reason: String) -> [Diagnostic]? {
        guard let current = running.withLock({ $0.flatMap { $0.stopping ? nil : $0 } }) else {
            return [Diagnostic(.error, at: nil, "serve is not running")]
        }
        let runner = current.generations.last!.runner
        let previous = current.configurationGeneration
        func refuse(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
            let errors = diagnostics.filter { $0.severity == .error }
            logger.log(.error, "configuration reload failed; the running configuration is kept", [
                "reason": reason, "errors": String(errors.count), "generation": String(previous),
            ])
            for diagnostic in errors { logger.log(.error, diagnostic.headline) }
            metrics.reloaded(succeeded: false, generation: previous)
            return diagnostics
        }
        let loaded = PipelineLoader(environment: configuration.environment, registry: configuration.registry)
            .load(paths: configuration.paths, cache: fileCache)
        guard !loaded.hasErrors else { return refuse(loaded.diagnostics) }
        // Files the cache shows unchanged hand back the definitions running now.
        let runningNames = Set(runner.pipelines.map(\.name))
        let changed = Set(loaded.pipelines.filter { loaded.parsedFiles.contains($0.file) || !runningNames.contains($0.name) }.map(\.name))
        let incoming = loaded.pipelines.filter { changed.contains($0.name) }
        let pluginErrors = PluginRuntime.start(incoming, includingSinks: true, logger: logger)
        guard pluginErrors.isEmpty else {
            PluginRuntime.shutdown(incoming)
            return refuse(pluginErrors)
        }
        for warning in loaded.diagnostics { logger.log(.warn, warning.headline) }
        warnAboutConnections(loaded.pipelines)
        let groups: [ListenAddress: [String: [PipelineDefinition]]]
        do {
            groups = try Self.ingestGroups(loaded.pipelines)
        } catch {
            PluginRuntime.shutdown(incoming)
            return refuse(error.diagnostics)
        }
        // Bind new addresses before switching, so a taken port refuses the reload.
        var added: [ListenAddress: Listener] = [:]
        for address in groups.keys where current.listeners[address] == nil {
            let endpoint = IngestEndpoint(routes: [:], committer: current.committer, metrics: metrics, logger: logger, clock: configuration.clock)
            do {
                added[address] = Listener(endpoint: endpoint, server: try HTTPServer(address: address, limits: configuration.ingestLimits, handler: endpoint))
            } catch {
                for listener in added.values { listener.server.stop(within: .zero) }
                PluginRuntime.shutdown(incoming)
                return refuse([Diagnostic(.error, at: nil, error.description)])
            }
        }

        // The switch: swapped pipelines' new lanes own everything created from the cut-off on,
        // their old lanes keep what came before; the others' lanes are not touched. Ingest routes
        // then plan with the new definitions (requests planned with the old ones are still stored
        // as the old definition's, see DeliveryRunner.enqueueIngested).
        let (cutoff, swapped) = runner.reconfigure(pipelines: loaded.pipelines, changed: changed)
        let number = previous + 1
        let listeners = current.listeners.merging(added) { $1 }
        for (address, listener) in listeners {
            listener.endpoint.update(routes: groups[address].map { Self.routes($0, runner: runner) } ?? [:])
        }
        let removed = listeners.filter { groups[$0.key] == nil }
        running.withLock {
            $0!.listeners = listeners.filter { groups[$0.key] != nil }
            $0!.configurationGeneration = number
        }
        for listener in removed.values { listener.server.stop(within: .seconds(2)) }
        metrics.register(loaded.pipelines)
        metrics.reloaded(succeeded: true, generation: number)
        current.context.setConfiguration(loaded.pipelines, generation: number)
        let names = swapped.sorted()
        logger.log(.info, "configuration reloaded", [
            "reason": reason, "generation": String(number), "pipelines": String(loaded.pipelines.count),
            "previous_generation": String(previous), "parsed_files": String(loaded.parsedFiles.count),
            "changed": names.isEmpty ? "-" : names.prefix(20).joined(separator: ",") + (names.count > 20 ? ",… (\(names.count))" : ""),
            "cutoff": RFC3339.format(unixSeconds: cutoff / 1000),
        ])
        return nil
    }

    /// A runner returned: a retired generation has delivered everything created under it. The
    /// next younger generation takes over its window (for resends of its old failed deliveries).
    private func generationFinished(_ generation: ServeGeneration) {
        let outcome = running.withLock { state -> (stopping: Bool, remaining: Int)? in
            guard state != nil, let index = state!.generations.firstIndex(where: { $0 === generation }) else { return nil }
            state!.generations.remove(at: index)
            state!.finishedCounters.add(generation.counters)
            if !state!.stopping, index < state!.generations.count {
                let next = state!.generations[index].runner
                next.setWindow(CreationWindow(fromMs: generation.runner.currentWindow.fromMs, beforeMs: next.currentWindow.beforeMs))
            }
            state!.context.setRunners(state!.generations.count)
            return (state!.stopping, state!.generations.count)
        }
        // Its deliveries are done, so its plugin processes can go (EOF, then SIGTERM).
        PluginRuntime.shutdown(generation.pipelines)
        guard let outcome, !outcome.stopping else { return }
        if generation.runner.isRetiring {
            logger.log(.info, "previous configuration finished its deliveries", ["generation": String(generation.number)])
        } else {
            logger.log(.error, "the delivery runner stopped unexpectedly", ["generation": String(generation.number)])
        }
    }

    /// Wakes every runner: deliveries were resent through the API.
    private func pokeRunners() {
        let runners = running.withLock { $0?.generations.map(\.runner) ?? [] }
        for runner in runners { runner.noteNewWork() }
    }

    // MARK: Shutdown

    /// Stops gracefully: readiness goes false, ingest stops accepting (new requests get 503),
    /// events already received are committed and answered, in-flight attempts get the grace
    /// period, then the listeners close. Returns the runners' counters. Blocks; idempotent.
    @discardableResult
    public func shutdown() -> DeliveryRunner.Counters {
        let counters = control.withLock { _ -> DeliveryRunner.Counters in
            guard let current = running.withLock({ state -> Running? in
                guard state != nil, !state!.stopping else { return nil }
                state!.stopping = true
                return state
            }) else { return running.withLock { $0?.finalCounters ?? $0?.finishedCounters } ?? DeliveryRunner.Counters() }
            current.context.setReady(false, reason: "shutting down")
            logger.log(.info, "shutting down; finishing in-flight deliveries", ["grace": configuration.grace.configDescription])
            current.watcher?.stop()
            for listener in current.listeners.values {
                listener.endpoint.beginDraining()
                listener.server.stopAccepting()
            }
            // Everything already received is stored and answered before the listeners close.
            current.committer.stop()
            for listener in current.listeners.values { listener.server.stop(within: .seconds(2)) }
            let generations = running.withLock { $0!.generations }
            for generation in generations { generation.runner.requestStop() }
            let deadline = Date(timeIntervalSinceNow: Double(configuration.grace.totalMilliseconds) / 1000 + 5)
            for generation in generations where !generation.wait(until: deadline) {
                logger.log(.warn, "a delivery runner did not stop in time", ["generation": String(generation.number)])
            }
            current.admin?.stop(within: .seconds(1))
            for generation in generations { PluginRuntime.shutdown(generation.pipelines) }
            current.checkpointer?.stop()
            return running.withLock { state in
                var total = state!.finishedCounters
                for generation in state!.generations { total.add(generation.counters) }
                state!.finalCounters = total
                return total
            }
        }
        hasStopped.store(true, ordering: .releasing)
        stopped.signal()
        return counters
    }

    /// Blocks until ``shutdown()`` has finished.
    public func waitUntilStopped() {
        while !hasStopped.load(ordering: .acquiring) { stopped.wait(until: Date(timeIntervalSinceNow: 1)) }
    }

    // MARK: Introspection

    /// Where the ingest listener configured as `listen` is bound (its real port with `:0`).
    public func ingestAddress(for listen: String) -> ListenAddress? {
        guard let key = ListenAddress(listen) else { return nil }
        return running.withLock { $0?.listeners[key]?.server.address }
    }

    /// Where the admin listener is bound.
    public var adminAddress: ListenAddress? { running.withLock { $0?.admin?.address } }

    /// The configuration generation running now (1 at start, +1 per successful reload).
    public var generation: Int { running.withLock { $0?.configurationGeneration } ?? 0 }

    /// Sink lanes of swapped pipelines still finishing the deliveries made under their previous
    /// configuration.
    public var retiringLaneCount: Int { running.withLock { $0?.generations.last?.runner }?.retiringLaneCount ?? 0 }

    /// Runners delivering: the current configuration's plus older ones finishing their work.
    public var runnerCount: Int { running.withLock { $0?.generations.count } ?? 0 }

    /// The pipelines running now.
    public var pipelines: [PipelineDefinition] { running.withLock { $0?.generations.last?.runner }?.pipelines ?? [] }
}
