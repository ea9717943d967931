/// Where the state store lives, as `--store` or `LOYALI_HOOKS_STORE` say, and how to open it.
///
/// - `postgres://…` or `postgresql://…`: a PostgreSQL database shared by several nodes (libpq's
///   connection URL; its password is never printed: see ``description``).
/// - `sqlite:DIR` (or `sqlite://DIR`): the SQLite store in the state directory `DIR`.
/// - nothing: the SQLite store in the state directory (`--state`, `LOYALI_HOOKS_STATE`, else
///   `.loyali-hooks`), as before stores were selectable.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    /// The SQLite store in a state directory.
    case sqlite(directory: String)
    /// A PostgreSQL database, by its checked connection URL (printed without its password).
    case postgresql(PostgresTarget)

    /// The state directory used when neither `--state` nor `LOYALI_HOOKS_STATE` is given.
    public static let defaultStateDirectory = ".loyali-hooks"

    /// The state directory from `--state`, else `LOYALI_HOOKS_STATE`, else `.loyali-hooks`.
    public static func stateDirectory(option: String?, environment: [String: String]) -> String {
        if let option, !option.isEmpty { return option }
        if let fromEnvironment = environment["LOYALI_HOOKS_STATE"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return defaultStateDirectory
    }

    /// The store from `--store` (`option`), else `LOYALI_HOOKS_STORE`, else the SQLite store in
    /// `stateDirectory`. Throws ``DeliveryStoreError`` with kind `.invalidLocation` for anything
    /// else; the message never repeats what was given, which may hold a password.
    public static func resolve(
        option: String?, environment: [String: String], stateDirectory: String
    ) throws(DeliveryStoreError) -> StoreLocation {
        let given = option.flatMap { $0.isEmpty ? nil : $0 } ?? environment["LOYALI_HOOKS_STORE"].flatMap { $0.isEmpty ? nil : $0 }
        guard let given else { return .sqlite(directory: stateDirectory) }
        let origin = option?.isEmpty == false ? "--store" : "LOYALI_HOOKS_STORE"
        if PostgresTarget.isPostgresURL(given) {
            do {
                return .postgresql(try PostgresTarget(url: given, environment: environment))
            } catch {
                throw DeliveryStoreError(.invalidLocation, path: origin, message: error.message)
            }
        }
        if given.hasPrefix("sqlite:") {
            var directory = given.dropFirst("sqlite:".count)
            if directory.hasPrefix("//") { directory = directory.dropFirst(2) }
            return .sqlite(directory: directory.isEmpty ? stateDirectory : String(directory))
        }
        throw DeliveryStoreError(
            .invalidLocation, path: origin,
            message: "expected postgres://USER@HOST/DATABASE (PostgreSQL) or sqlite:DIRECTORY, not a value starting \(Self.scheme(of: given))")
    }

    /// The engine behind this location.
    public var engine: StoreEngine {
        switch self {
        case .sqlite: .sqlite
        case .postgresql: .postgresql
        }
    }

    /// The location for messages: the state directory, or the URL without its password.
    public var description: String {
        switch self {
        case .sqlite(let directory): directory
        case .postgresql(let target): target.redacted
        }
    }

    /// Opens (creating and migrating if needed) the store here, for a runner.
    public func open(options: StoreOptions) throws -> any DeliveryStore {
        switch self {
        case .sqlite(let directory): try SQLiteDeliveryStore(directory: directory, options: options)
        case .postgresql(let target): try PostgresDeliveryStore(target: target, options: options)
        }
    }

    /// Opens a store that must already exist (the read commands and `resend`): throws
    /// ``DeliveryStoreError`` with kind `.noState` rather than create one. `readOnly` (the read
    /// commands) opens connections that cannot write; on PostgreSQL it also refuses, rather than
    /// migrates, a schema older than this build's (`.schemaTooOld`).
    public func openExisting(readOnly: Bool, options: StoreOptions) throws -> any DeliveryStore {
        switch self {
        case .sqlite(let directory): try SQLiteDeliveryStore(existingDirectory: directory, readOnly: readOnly, options: options)
        case .postgresql(let target): try PostgresDeliveryStore(target: target, options: options, mode: readOnly ? .readOnly : .existing)
        }
    }

    /// The scheme of `value` (up to its `:`) for an error message, or a hint that it has none:
    /// only that much, never the rest, which may hold a password.
    private static func scheme(of value: String) -> String {
        guard let colon = value.firstIndex(of: ":"), value[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." })
        else { return "without a scheme (e.g. postgres://)" }
        return "'\(value[...colon])'"
    }
}
