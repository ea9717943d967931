import Foundation
import Synchronization

/// Pipeline files as last loaded, kept between loads so that `serve`'s reloads re-parse only the
/// files that changed: with thousands of files, a reload that re-read them all would cost
/// seconds, and would hand every pipeline a new definition even though one file was edited.
///
/// A file is taken as unchanged when its `stat` (device, inode, size, modification and change
/// times) is what it was, or, when those moved (a `touch`, a checkout rewriting the same bytes),
/// its contents hash to the same SHA-256. Files whose pipeline depends on other files, a
/// `sign.secret_file` or a plugin's manifest, are parsed every time, since those can change
/// without the pipeline file changing (rotating a secret file is done with a reload).
///
/// The environment and the stage registry are the loader's; a cache serves one loader setting
/// (one daemon), which never changes them.
public final class PipelineFileCache: Sendable {
    /// What identifies a file's version without reading it. `PipelineWatcher` hashes the same
    /// stamp to notice that something changed at all.
    struct Stamp: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int64
        var modifiedNanoseconds: Int64
        var changedSeconds: Int64
        var changedNanoseconds: Int64

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modifiedSeconds = Int64(info.st_mtim.tv_sec)
            modifiedNanoseconds = Int64(info.st_mtim.tv_nsec)
            changedSeconds = Int64(info.st_ctim.tv_sec)
            changedNanoseconds = Int64(info.st_ctim.tv_nsec)
        }
    }

    /// One file's last load.
    struct Entry: Sendable {
        /// `nil` when the file could not be stat'ed; such an entry is never stored.
        var stamp: Stamp?
        var digest: [UInt8]
        var text: String
        var pipeline: (PipelineDefinition, SourceLocation)?
        var diagnostics: [Diagnostic]
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// An empty cache.
    public init() {}

    /// The files held, for tests and logs.
    public var count: Int { entries.withLock { $0.count } }

    /// The entry for `file` if `stamp` (or, failing that, the contents' digest) shows it
    /// unchanged. Called with the stamp taken before reading, so a write racing the read is
    /// seen at the next load.
    func entry(for file: String, stamp: Stamp) -> Entry? {
        entries.withLock { entries in
            guard let entry = entries[file], entry.stamp == stamp else { return nil }
            return entry
        }
    }

    /// The entry for `file` whose contents hash to `digest`, its stamp brought up to date.
    func entry(for file: String, digest: [UInt8], stamp: Stamp) -> Entry? {
        entries.withLock { entries in
            guard var entry = entries[file], entry.digest == digest else { return nil }
            entry.stamp = stamp
            entries[file] = entry
            return entry
        }
    }

    func store(_ entry: Entry, for file: String) {
        entries.withLock { $0[file] = entry }
    }

    func remove(_ file: String) {
        _ = entries.withLock { $0.removeValue(forKey: file) }
    }

    /// Forgets files not in `files` (deleted, or no longer under the paths loaded).
    func keep(only files: [String]) {
        let kept = Set(files)
        entries.withLock { entries in entries = entries.filter { kept.contains($0.key) } }
    }
}
