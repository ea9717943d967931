import Foundation

/// Collects the replies of one batch and wakes the caller when the last one arrives.
final class ReplyCollector: @unchecked Sendable {
    // `replies` and `remaining` are only touched with `condition` locked.
    private let condition = NSCondition()
    private var replies: [PluginSupervisor.Reply?]
    private var remaining: Int

    init(count: Int) {
        replies = Array(repeating: nil, count: count)
        remaining = count
    }

    func set(_ reply: PluginSupervisor.Reply, at index: Int) {
        condition.lock()
        if replies[index] == nil {
            replies[index] = reply
            remaining -= 1
            if remaining == 0 { condition.broadcast() }
        }
        condition.unlock()
    }

    func wait() -> [PluginSupervisor.Reply] {
        condition.lock()
        while remaining > 0 { condition.wait() }
        let result = replies.map { $0! }
        condition.unlock()
        return result
    }
}
