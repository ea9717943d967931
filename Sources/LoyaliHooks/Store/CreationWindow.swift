/// A range of delivery creation times (`created_at`, ms since the Unix epoch), half-open:
/// `fromMs <= created_at < beforeMs`, either end open when `nil`.
///
/// When `serve` reloads its configuration, the deliveries created before the switch keep being
/// sent by the old configuration's runner and the new runner takes those created after it; each
/// claims only its window of the outbox.
public struct CreationWindow: Sendable, Hashable {
    /// The first creation time included, or `nil` for no lower bound.
    public var fromMs: Int64?
    /// The first creation time excluded, or `nil` for no upper bound.
    public var beforeMs: Int64?

    /// Makes a window; with no arguments it holds every delivery.
    public init(fromMs: Int64? = nil, beforeMs: Int64? = nil) {
        self.fromMs = fromMs
        self.beforeMs = beforeMs
    }

    /// Every delivery.
    public static let all = CreationWindow()

    /// Whether the window holds every delivery.
    public var isAll: Bool { fromMs == nil && beforeMs == nil }

    /// Whether `createdAtMs` falls in the window.
    public func contains(_ createdAtMs: Int64) -> Bool {
        createdAtMs >= (fromMs ?? .min) && createdAtMs < (beforeMs ?? .max)
    }

    /// The creation times in both windows.
    public func intersection(_ other: CreationWindow) -> CreationWindow {
        let from = [fromMs, other.fromMs].compactMap { $0 }.max()
        let before = [beforeMs, other.beforeMs].compactMap { $0 }.min()
        return CreationWindow(fromMs: from, beforeMs: before)
    }

    /// `nowMs` moved into the window, so a delivery stamped with it belongs here.
    public func clamp(_ nowMs: Int64) -> Int64 {
        var value = nowMs
        if let beforeMs { value = min(value, beforeMs - 1) }
        if let fromMs { value = max(value, fromMs) }
        return value
    }
}
