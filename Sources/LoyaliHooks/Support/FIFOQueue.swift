/// A first-in, first-out queue over an array and a head index: taking from the front is O(1) and
/// allocates nothing. The taken prefix is dropped when the queue empties, or once it is 1,024
/// elements long, so memory follows what is still queued.
struct FIFOQueue<Element> {
    private var storage: [Element] = []
    private var head = 0

    /// Whether nothing is queued.
    var isEmpty: Bool { head == storage.count }

    /// How many elements are queued.
    var count: Int { storage.count - head }

    /// What is queued, oldest first.
    var elements: ArraySlice<Element> { storage[head...] }

    /// Queues `element` last.
    mutating func append(_ element: Element) {
        storage.append(element)
    }

    /// Removes and returns the oldest element, or `nil` when nothing is queued.
    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        advance(by: 1)
        return element
    }

    /// Removes and returns the oldest `limit` elements, or as many as are queued.
    mutating func popFirst(_ limit: Int) -> [Element] {
        let taken = Array(storage[head..<head + min(max(0, limit), count)])
        advance(by: taken.count)
        return taken
    }

    private mutating func advance(by taken: Int) {
        head += taken
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 {
            storage.removeFirst(head)
            head = 0
        }
    }

    /// Empties the queue and frees its storage.
    mutating func removeAll() {
        storage.removeAll()
        head = 0
    }
}

extension FIFOQueue: Sendable where Element: Sendable {}
