import Synchronization

/// A live status line at the bottom of a terminal (the run's progress), shared with log lines:
/// a log line first clears the status line, is written on a line of its own, and the status is
/// drawn again under it, so the two never run together on one line.
///
/// Every write to the stream goes through one lock, so a status redraw cannot land in the middle
/// of a log line either.
public final class StatusLine: Sendable {
    /// Clears the terminal line the cursor is on and returns to its start.
    static let clear = "\r\u{1B}[2K"

    private let write: @Sendable (String) -> Void
    /// The status shown now (`nil` when none is), and whether it was removed for good: a timer
    /// firing just after the removal must not draw it again.
    private let state = Mutex<(shown: String?, removed: Bool)>((nil, false))

    /// A status line written through `write` (stderr in the CLI; tests capture it).
    public init(write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    /// Shows `status` in place of the previous one.
    public func show(_ status: String) {
        state.withLock { state in
            guard !state.removed else { return }
            state.shown = status
            write(Self.clear + status)
        }
    }

    /// Writes `line` and a newline above the status line.
    public func log(_ line: String) {
        state.withLock { state in
            guard let status = state.shown else { return write(line + "\n") }
            write(Self.clear + line + "\n" + status)
        }
    }

    /// Clears the status line for good; later log lines are written plainly.
    public func remove() {
        state.withLock { state in
            if state.shown != nil { write(Self.clear) }
            state = (nil, true)
        }
    }
}
