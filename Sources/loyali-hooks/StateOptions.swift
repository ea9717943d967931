import Foundation
import LoyaliHooks

/// `--state DIR` (or `LOYALI_HOOKS_STATE`, or `.loyali-hooks/`), `--store URL` (or
/// `LOYALI_HOOKS_STORE`), and opening the store they name.
enum StateOptions {
    static let help = """
          --state DIR        state directory (default: $LOYALI_HOOKS_STATE or .loyali-hooks/)
          --store URL        state store: postgres://USER@HOST/DB (shared by several nodes; the password
                             comes from $PGPASSWORD or ~/.pgpass, never the command line) or sqlite:DIR
                             (default: $LOYALI_HOOKS_STORE, else SQLite in the state directory)
        """
    /// For the commands that claim and record (`run`, `serve`).
    static let nodeHelp = """
          --node-id ID       this node's id in leases and the attempt log (default: $LOYALI_HOOKS_NODE_ID,
                             else HOSTNAME:PID)
          --lease D          how long a claimed delivery stays this node's without renewal; after it
                             other nodes take it over (default 60s; PostgreSQL store)
        """
    /// The options every command that opens the store takes.
    static let names = ["--state", "--store"]
    /// The options of the commands that claim and record.
    static let nodeNames = ["--node-id", "--lease"]

    /// The state directory `--state`, `LOYALI_HOOKS_STATE` or the default names.
    static func directory(_ args: Arguments) -> String {
        StoreLocation.stateDirectory(option: args.value("--state"), environment: ProcessInfo.processInfo.environment)
    }

    /// The store `--store`, `LOYALI_HOOKS_STORE`, or the SQLite store in the state directory.
    static func location(_ args: Arguments) throws(CLIError) -> StoreLocation {
        do {
            return try StoreLocation.resolve(
                option: args.value("--store"), environment: ProcessInfo.processInfo.environment, stateDirectory: directory(args))
        } catch {
            throw .usage("\(error.path): \(error.message)")
        }
    }

    /// `--node-id` (else `LOYALI_HOOKS_NODE_ID`, else HOSTNAME:PID) and `--lease`.
    static func storeOptions(_ args: Arguments) throws(CLIError) -> StoreOptions {
        let environment = ProcessInfo.processInfo.environment
        let given = args.value("--node-id") ?? environment["LOYALI_HOOKS_NODE_ID"].flatMap { $0.isEmpty ? nil : $0 }
        if let given, let problem = StoreOptions.problem(withNodeID: given) {
            throw .usage("\(args.value("--node-id") != nil ? "--node-id" : "LOYALI_HOOKS_NODE_ID"): \(problem)")
        }
        var options = StoreOptions(nodeID: given)
        if let text = args.value("--lease") {
            let lease = try ServeCommand.duration(text, "--lease", maximum: .seconds(86_400))
            guard lease >= .seconds(1) else { throw .usage("--lease must be at least 1s, not '\(text)'") }
            options.leaseMs = lease.totalMilliseconds
        }
        return options
    }

    /// Opens (creating if needed) the store at `location` for a runner.
    static func openStore(_ location: StoreLocation, options: StoreOptions) throws(CLIError) -> any DeliveryStore {
        do {
            return try location.open(options: options)
        } catch {
            throw .usage("state store \(location): \(error)")
        }
    }

    /// Opens the store for a command that works on existing state (`deliveries`, `stats` read
    /// only; `resend`): a missing state directory or database is reported, exit 2, and nothing is
    /// created.
    static func openExistingStore(_ args: Arguments, readOnly: Bool) throws(CLIError) -> any DeliveryStore {
        let location = try location(args)
        do {
            return try location.openExisting(readOnly: readOnly, options: StoreOptions())
        } catch let error as DeliveryStoreError where error.kind == .noState {
            Terminal.err("\(error)")
            throw .config
        } catch {
            throw .usage("state store \(location): \(error)")
        }
    }

    /// The runner lock of the SQLite store's directory (`run`, `serve`); another runner there is
    /// a usage problem, reported at once: exit 2 with `state DIR is in use by pid N`. `nil` for a
    /// store shared by several nodes, whose leases keep runners apart.
    static func lockForRunner(_ location: StoreLocation) throws(CLIError) -> StateDirectoryLock? {
        guard case .sqlite(let directory) = location else { return nil }
        do {
            return try StateDirectoryLock(directory: directory)
        } catch {
            Terminal.err("error: \(error)")
            throw .config
        }
    }

    /// `--since 1h` as a cutoff in Unix milliseconds.
    static func since(_ args: Arguments, nowMs: Int64) throws(CLIError) -> Int64? {
        guard let text = args.value("--since") else { return nil }
        switch Duration.lookBackCutoffMs(text, name: "--since", nowMs: nowMs) {
        case .success(let cutoff): return cutoff
        case .failure(let problem): throw .usage(problem.message)
        }
    }

    /// Runs a store call, mapping its error to a failure exit.
    static func attempt<T>(_ body: () throws -> T) throws(CLIError) -> T {
        do {
            return try body()
        } catch {
            throw .failed("error: \(error)")
        }
    }
}

extension Int64 {
    /// Unix milliseconds as RFC 3339 UTC.
    var rfc3339: String { RFC3339.format(unixSeconds: self / 1000) }
}
