extension PostgresError: StoreEngineError {
    /// The message when the connection to the database is lost or cannot be made (the runner
    /// keeps the work and tries again, `/readyz` fails meanwhile); `nil` for a refused statement.
    public var unavailableReason: String? {
        isConnectionLoss ? "PostgreSQL unreachable: \(message)" : nil
    }
}
