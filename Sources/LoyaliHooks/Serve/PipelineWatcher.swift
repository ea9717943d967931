import Foundation
import Synchronization

/// Watches pipeline files and folders and calls back when they change: a file edited, added,
/// removed or renamed. It polls each file's modification time and size on its own thread (cheap
/// for a folder of YAML files, and it works on every file system, including bind mounts and
/// Kubernetes ConfigMap symlink swaps that inotify misses), and fires once a change has settled
/// for one interval, so an editor's save-in-several-steps triggers one reload.
final class PipelineWatcher: Sendable {
    private let paths: [String]
    private let interval: Duration
    private let onChange: @Sendable () -> Void
    private let running = Atomic<Bool>(true)
    private let wakeup = Wakeup()
    private let finished = Wakeup()

    /// Starts watching `paths` (files or folders) every `interval`.
    init(paths: [String], interval: Duration, onChange: @escaping @Sendable () -> Void) {
        self.paths = paths
        self.interval = interval
        self.onChange = onChange
        // Taken now, so a change made right after `init` returns is seen as a change.
        let initial = Self.fingerprint(paths)
        let thread = Thread { [self] in
            watch(from: initial)
            finished.signal()
        }
        thread.name = "loyali-hooks.watch"
        thread.start()
    }

    /// Stops the thread and waits for it.
    func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        wakeup.signal()
        finished.wait(until: Date(timeIntervalSinceNow: 5))
    }

    private func watch(from initial: [String: String]) {
        var seen = initial
        var pending: [String: String]?
        let seconds = Double(interval.totalMilliseconds) / 1000
        while running.load(ordering: .relaxed) {
            wakeup.wait(until: Date(timeIntervalSinceNow: seconds))
            guard running.load(ordering: .relaxed) else { return }
            let now = Self.fingerprint(paths)
            if let settling = pending {
                if now == settling {
                    pending = nil
                    seen = now
                    onChange()
                } else {
                    pending = now
                }
            } else if now != seen {
                pending = now
            }
        }
    }

    /// Each watched file's path with its modification time and size.
    private static func fingerprint(_ paths: [String]) -> [String: String] {
        var files: [String: String] = [:]
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                files[path] = "missing"
                continue
            }
            let members = isDirectory.boolValue ? PipelineLoader.pipelineFiles(in: path) : [path]
            for file in members {
                var info = stat()
                guard stat(file, &info) == 0 else { continue }
                files[file] = "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):\(info.st_size):\(info.st_ino)"
            }
        }
        return files
    }
}
