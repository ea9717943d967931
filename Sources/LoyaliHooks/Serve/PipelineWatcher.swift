import Foundation
import Synchronization

/// Watches pipeline files and folders and calls back when they change: a file edited, added,
/// removed or renamed. It polls each file's modification time and size on its own thread (cheap
/// for a folder of YAML files, and it works on every file system, including bind mounts and
/// Kubernetes ConfigMap symlink swaps that inotify misses), and fires once a change has settled
/// for one interval, so an editor's save-in-several-steps triggers one reload.
final class PipelineWatcher: Sendable {
    private let thread: PeriodicThread

    /// Starts watching `paths` (files or folders) every `interval`.
    init(paths: [String], interval: Duration, onChange: @escaping @Sendable () -> Void) {
        // What was last seen (taken now, so a change made right after `init` returns is seen as
        // a change), and a change waiting one interval to settle. Only the watching thread
        // touches them; the Mutex is what lets its closure hold them.
        let state = Mutex<(seen: Int, pending: Int?)>((Self.fingerprint(paths), nil))
        thread = PeriodicThread(name: "loyali-hooks.watch", interval: interval) { stopping in
            guard !stopping else { return }
            let now = Self.fingerprint(paths)
            let changed = state.withLock { state -> Bool in
                if let settling = state.pending {
                    if now == settling {
                        state = (now, nil)
                        return true
                    }
                    state.pending = now
                } else if now != state.seen {
                    state.pending = now
                }
                return false
            }
            if changed { onChange() }
        }
    }

    /// Stops the thread and waits for it.
    func stop() {
        thread.stop(waitingUpTo: .seconds(5))
    }

    /// A hash of every watched file's path and ``PipelineFileCache/Stamp`` (device, inode, size,
    /// modification and change times). One number
    /// rather than a table of them: with thousands of files the table cost more than the stats,
    /// and a reload finds out by itself which files changed (``PipelineFileCache``).
    static func fingerprint(_ paths: [String]) -> Int {
        var hasher = Hasher()
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                hasher.combine(path)
                hasher.combine("missing")
                continue
            }
            let members = isDirectory.boolValue ? PipelineLoader.pipelineFiles(in: path) : [path]
            hasher.combine(members.count)
            for file in members {
                guard let stamp = PipelineFileCache.Stamp(path: file) else { continue }
                hasher.combine(file)
                hasher.combine(stamp)
            }
        }
        return hasher.finalize()
    }
}
