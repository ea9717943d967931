import Foundation
import LoyaliHooks

/// `--state DIR` (or `LOYALI_HOOKS_STATE`, or `.loyali-hooks/`) and opening the store there.
enum StateOptions {
    static let help = "  --state DIR        state directory (default: $LOYALI_HOOKS_STATE or .loyali-hooks/)"

    /// The state directory `--state`, `LOYALI_HOOKS_STATE` or the default names.
    static func directory(_ args: Arguments) -> String {
        DeliveryStore.stateDirectory(option: args.value("--state"), environment: ProcessInfo.processInfo.environment)
    }

    static func openStore(_ args: Arguments) throws(CLIError) -> DeliveryStore {
        let directory = Self.directory(args)
        do {
            return try DeliveryStore(directory: directory)
        } catch {
            throw .usage("state store \(directory): \(error)")
        }
    }

    /// Opens the store for a command that works on existing state (`deliveries`, `stats` read
    /// only; `resend`): a missing state directory or database is reported, exit 2, and nothing is
    /// created.
    static func openExistingStore(_ args: Arguments, readOnly: Bool) throws(CLIError) -> DeliveryStore {
        let directory = Self.directory(args)
        do {
            return try DeliveryStore(existingDirectory: directory, readOnly: readOnly)
        } catch let error as DeliveryStoreError where error.kind == .noState {
            Terminal.err("\(error)")
            throw .config
        } catch {
            throw .usage("state store \(directory): \(error)")
        }
    }

    /// The state directory's runner lock (`run`, `serve`); another runner there is a usage
    /// problem, reported at once: exit 2 with `state DIR is in use by pid N`.
    static func lockForRunner(_ args: Arguments) throws(CLIError) -> StateDirectoryLock {
        let directory = Self.directory(args)
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
