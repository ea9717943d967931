import Foundation

/// The state database holds payloads and personal data, so only its owner may read it.
extension SQLiteDeliveryStore {
    /// Mode of the state directory when loyali-hooks creates it.
    static let directoryMode: mode_t = 0o700
    /// Mode of the database and its `-wal` and `-shm` files.
    static let fileMode: mode_t = 0o600

    /// The path of the file `name` in the state directory `directory`.
    static func file(_ name: String, in directory: String) -> String {
        (directory.hasSuffix("/") ? directory : directory + "/") + name
    }

    /// Creates `directory` (and missing parents) with mode 0700; an existing directory is the
    /// user's choice (it may be `.`) and is left as it is.
    static func createStateDirectory(_ directory: String) throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(directoryMode)])
    }

    /// Creates the database file at `path` with mode 0600 before SQLite opens it, and tightens
    /// an existing database, `-wal` or `-shm` file of this user that others could read. SQLite
    /// would create the database 0644, and it gives the `-wal` and `-shm` files the database's
    /// own mode, so a 0600 database keeps all three private.
    static func secureDatabaseFiles(at path: String) {
        // Only a file made here is opened (O_EXCL). Closing any descriptor of a database this
        // process has open already (serve opens a second connection for its checkpoints) drops
        // every POSIX lock the process holds on it, SQLite's included: another process's
        // connection then believes it is the last one, and on closing deletes the WAL this one
        // still writes to, so neither sees the other's commits and this one's are lost.
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        if fd >= 0 { close(fd) }
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            guard lstat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(),
                info.st_mode & 0o077 != 0
            else { continue }
            _ = chmod(file, fileMode)
        }
    }
}
