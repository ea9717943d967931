extension PostgresError: StoreEngineError {
    /// SQLSTATEs that mean the database cannot take writes now, though the same write may
    /// succeed later: disk full (53100), out of memory (53200), too many connections (53300),
    /// a read-only server such as a standby (25006).
    private static let unavailableStates: Set<String> = ["53100", "53200", "53300", "25006"]

    /// Why the store cannot be written now (the database is unreachable, restarting, full or
    /// read-only), or `nil` when this error is about the statement itself.
    public var unavailableReason: String? {
        guard isConnectionLoss || sqlState.map(Self.unavailableStates.contains) == true else { return nil }
        return "PostgreSQL unavailable: \(message)"
    }
}
