extension JSONValue {
    /// This value with every number that equals the number at the same place in `original`
    /// written as `original` wrote it.
    ///
    /// Plugins parse and re-serialize events with their language's JSON library, which rewrites
    /// numbers: Python turns `12.50` into `12.5`, JavaScript turns `12345678901234567890` into
    /// `12345678901234567000`. Both still equal the original as a double, so the original literal
    /// comes back and a field the plugin did not touch reaches receivers byte for byte as it came
    /// in. A number the plugin really changed differs and is kept.
    func restoringNumberLiterals(from original: JSONValue) -> JSONValue {
        // Checked first: usually nothing differs, and then nothing is copied.
        guard hasRestorableNumbers(from: original) else { return self }
        var copy = self
        copy.restoreNumberLiterals(from: original)
        return copy
    }

    /// Whether some number here equals, but is spelt differently from, the one at its place in
    /// `original`. Reads only.
    func hasRestorableNumbers(from original: JSONValue) -> Bool {
        switch (self, original) {
        case (.number(let new), .number(let old)):
            guard new.literal != old.literal, let a = Double(new.literal), let b = Double(old.literal) else { return false }
            return a == b
        case (.object(let object), .object(let old)):
            for (index, member) in object.members.enumerated() {
                let previous = index < old.members.count && old.members[index].key == member.key ? old.members[index].value : old[member.key]
                if let previous, previous.isNumberOrContainer, member.value.hasRestorableNumbers(from: previous) { return true }
            }
            return false
        case (.array(let items), .array(let old)):
            return zip(items, old).contains { $0.hasRestorableNumbers(from: $1) }
        default:
            return false
        }
    }

    /// In-place form of ``restoringNumberLiterals(from:)``. Containers are taken out of `self`
    /// while they are changed, so they are uniquely referenced and never copied.
    mutating func restoreNumberLiterals(from original: JSONValue) {
        switch original {
        case .number(let old):
            guard case .number(let new) = self, new.literal != old.literal,
                let a = Double(new.literal), let b = Double(old.literal), a == b
            else { return }
            self = original
        case .object(let old):
            guard case .object(var object) = self else { return }
            self = .null
            for index in object.members.indices {
                let key = object.members[index].key
                // Plugins usually keep key order, so the same position is tried first.
                let previous = index < old.members.count && old.members[index].key == key ? old.members[index].value : old[key]
                guard let previous, previous.isNumberOrContainer else { continue }
                object.members[index].value.restoreNumberLiterals(from: previous)
            }
            self = .object(object)
        case .array(let old):
            guard case .array(var items) = self else { return }
            self = .null
            for index in items.indices where index < old.count && old[index].isNumberOrContainer {
                items[index].restoreNumberLiterals(from: old[index])
            }
            self = .array(items)
        case .null, .bool, .string:
            return
        }
    }

    private var isNumberOrContainer: Bool {
        switch self {
        case .number, .object, .array: true
        case .null, .bool, .string: false
        }
    }
}
