/// A binary min-heap: the smallest element is read in O(1), added and removed in O(log n).
struct MinHeap<Element: Comparable> {
    private var storage: [Element] = []

    /// Whether the heap is empty.
    var isEmpty: Bool { storage.isEmpty }

    /// How many elements it holds.
    var count: Int { storage.count }

    /// The smallest element.
    var min: Element? { storage.first }

    /// Adds `element`.
    mutating func insert(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child] < storage[parent] else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the smallest element.
    mutating func popMin() -> Element? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let smallest = storage.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallestChild = parent
            if left < storage.count, storage[left] < storage[smallestChild] { smallestChild = left }
            if right < storage.count, storage[right] < storage[smallestChild] { smallestChild = right }
            guard smallestChild != parent else { break }
            storage.swapAt(parent, smallestChild)
            parent = smallestChild
        }
        return smallest
    }
}
