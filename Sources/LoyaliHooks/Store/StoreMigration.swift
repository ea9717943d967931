/// One step of the state database's schema history. `version` is what `PRAGMA user_version`
/// holds once the step has run; steps run in order, each exactly once, inside one transaction.
struct StoreMigration: Sendable {
    /// The schema version this step produces (1, 2, …, with no gaps).
    let version: Int
    /// What the step adds, for the record.
    let summary: String
    /// The `;`-separated statements of the step.
    let sql: String
}
