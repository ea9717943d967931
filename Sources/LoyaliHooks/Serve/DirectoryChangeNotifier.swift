import Foundation

/// Tells the pipeline watcher whether anything may have changed in the folders it watches,
/// through Linux's inotify, so an idle `serve` does not stat every pipeline file at every look:
/// with 10,000 files that polling alone cost a tenth of a core.
///
/// It watches whole folder trees (new subfolders too, as they appear) and the folder of each
/// file named on its own, so edits, renames, removals and symlink swaps (a Kubernetes ConfigMap's
/// `..data`) inside them are seen. What inotify cannot see (a change on another NFS client, a
/// file reached through a symlink into an unwatched folder) the watcher's slow full look still
/// finds.
///
/// `@unchecked Sendable`: after `init`, only the watching thread calls it (the watcher's
/// ``PeriodicThread`` tick), one call at a time; `deinit` runs once nothing can call it.
final class DirectoryChangeNotifier: @unchecked Sendable {
    private let descriptor: Int32
    /// Each watch's folder, for the folders created inside it.
    private var folders: [Int32: String] = [:]
    private var watched = Set<String>()

    private static let mask = UInt32(
        IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF
            | IN_MOVE_SELF)

    /// Watches the folders of `paths` (folder trees, and each file's folder); `nil` where
    /// inotify is not available or refuses (then the watcher polls).
    init?(paths: [String]) {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { return nil }
        for path in paths {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                watchTree(path)
            } else {
                // A file (or one not there yet): its folder sees it edited, replaced or created.
                watch((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent)
            }
        }
        guard !watched.isEmpty else {
            close(descriptor)
            return nil
        }
    }

    deinit { close(descriptor) }

    /// Reads every event queued since the last call, watching folders created meanwhile;
    /// returns whether there was any (a queue overflow counts as one).
    func takeChanges() -> Bool {
        var changed = false
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            changed = true
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.wd, event.mask, Int(event.len))
                }
                let nameStart = offset + MemoryLayout<inotify_event>.size
                if mask & UInt32(IN_ISDIR) != 0, mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0, let parent = folders[wd] {
                    let name = String(decoding: buffer[nameStart..<min(count, nameStart + length)].prefix { $0 != 0 }, as: UTF8.self)
                    watchTree(parent + "/" + name)
                }
                if mask & UInt32(IN_IGNORED) != 0, let folder = folders.removeValue(forKey: wd) {
                    // Removed or moved away: watched again if it comes back in a watched folder.
                    watched.remove(folder)
                }
                offset = nameStart + length
            }
        }
        return changed
    }

    private func watch(_ folder: String) {
        guard !watched.contains(folder) else { return }
        let wd = inotify_add_watch(descriptor, folder, Self.mask)
        guard wd >= 0 else { return }
        folders[wd] = folder
        watched.insert(folder)
    }

    /// Watches `root` and every folder below it.
    private func watchTree(_ root: String) {
        watch(root)
        guard let handle = opendir(root) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != ".", name != ".." else { continue }
            var isFolder = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                var info = stat()
                isFolder = lstat(root + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
            }
            if isFolder { watchTree(root + "/" + name) }
        }
    }
}
