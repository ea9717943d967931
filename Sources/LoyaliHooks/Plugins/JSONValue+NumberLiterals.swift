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
        switch (self, original) {
        case (.number(let new), .number(let old)):
            guard new.literal != old.literal, let a = Double(new.literal), let b = Double(old.literal), a == b else { return self }
            return original
        case (.object(var object), .object(let old)):
            for index in object.members.indices {
                let key = object.members[index].key
                // Plugins usually keep key order, so the same position is tried first.
                let previous = index < old.members.count && old.members[index].key == key ? old.members[index].value : old[key]
                guard let previous else { continue }
                object.members[index].value = object.members[index].value.restoringNumberLiterals(from: previous)
            }
            return .object(object)
        case (.array(var items), .array(let old)):
            for index in items.indices where index < old.count {
                items[index] = items[index].restoringNumberLiterals(from: old[index])
            }
            return .array(items)
        default:
            return self
        }
    }
}
