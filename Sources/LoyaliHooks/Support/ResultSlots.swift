import Synchronization

/// Fixed slots that concurrent workers fill by index, read once they have all finished.
final class ResultSlots<Value: Sendable>: Sendable {
    private let slots: Mutex<[Value?]>

    init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }

    /// Stores `value` in slot `index`.
    func store(_ value: sending Value, at index: Int) {
        slots.withLock { $0[index] = value }
    }

    /// All values; every slot must have been stored.
    var values: [Value] { slots.withLock { $0.map { $0! } } }
}
