import Foundation
import Synchronization

/// Watches pipeline files and folders and calls back when they change: a file edited, added,
/// removed or renamed. It compares each file's modification time and size (see
/// ``fingerprint(_:)``), which works on every file system, including bind mounts and Kubernetes
/// ConfigMap symlink swaps, and fires once a change has settled for one interval, so an editor's
/// save-in-several-steps triggers one reload.
///
/// Where inotify works (``DirectoryChangeNotifier``), it looks only after the folders reported a
/// change, and otherwise once per ``fullLookInterval`` for what inotify cannot see: an idle
/// `serve` with 10,000 files no longer stats every one of them twice a second. Elsewhere it looks
/// at every interval.
final class PipelineWatcher: Sendable {
    private let thread: PeriodicThread
    private let lookCount = LookCount()

    /// The looks taken so far, in a class so the watching thread's closure can hold it.
    private final class LookCount: Sendable {
        let value = Atomic<Int>(0)
    }

    /// How often a watcher with inotify looks at every file anyway, at least.
    static let fullLookInterval = Duration.seconds(10)

    /// Starts watching `paths` (files or folders) every `interval`.
    init(paths: [String], interval: Duration, onChange: @escaping @Sendable () -> Void) {
        // What was last seen (taken now, so a change made right after `init` returns is seen as
        // a change), a change waiting one interval to settle, and when the next full look is due.
        // Only the watching thread touches them; the Mutex is what lets its closure hold them.
        let notifier = DirectoryChangeNotifier(paths: paths)
        let fullLookTicks = max(1, Int(Self.fullLookInterval.totalMilliseconds / max(1, interval.totalMilliseconds)))
        let state = Mutex<(seen: Int, pending: Int?, ticksSinceLook: Int)>((Self.fingerprint(paths), nil, 0))
        let looks = lookCount
        thread = PeriodicThread(name: "loyali-hooks.watch", interval: interval) { stopping in
            guard !stopping else { return }
            // Read every tick, so events do not pile up in the kernel between full looks.
            let reported = notifier?.takeChanges() ?? true
            let due = state.withLock { state -> Bool in
                state.ticksSinceLook += 1
                return reported || state.pending != nil || state.ticksSinceLook >= fullLookTicks
            }
            guard due else { return }
            looks.value.add(1, ordering: .relaxed)
            let now = Self.fingerprint(paths)
            let changed = state.withLock { state -> Bool in
                state.ticksSinceLook = 0
                if let settling = state.pending {
                    if now == settling {
                        state = (now, nil, 0)
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

    /// How many times it has looked at every watched file since it started; for tests.
    var looks: Int { lookCount.value.load(ordering: .relaxed) }

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
