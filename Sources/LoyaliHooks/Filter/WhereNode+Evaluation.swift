extension WhereNode {
    /// Whether the condition holds for `envelope`. Total: every input gives true or false.
    func isTrue(in envelope: EventEnvelope) -> Bool {
        switch self {
        case .constant(let value):
            return value
        case .isTrue(let path):
            if case .bool(true) = path.value(in: envelope) { return true }
            return false
        case .comparePath(let path, let comparison, let literal):
            return WhereNode.compare(path.value(in: envelope) ?? .null, comparison, literal)
        case .compare(let left, let comparison, let right):
            return WhereNode.compare(left.value(in: envelope), comparison, right.value(in: envelope))
        case .member(let operand, let list):
            let value = operand.value(in: envelope)
            return list.contains { WhereNode.compare(value, .equal, $0) }
        case .exists(let path):
            return path.value(in: envelope) != nil
        case .startsWith(let path, let prefix):
            guard case .string(let text) = path.value(in: envelope) else { return false }
            return text.utf8.starts(with: prefix.utf8)
        case .not(let node):
            return !node.isTrue(in: envelope)
        case .and(let nodes):
            for node in nodes where !node.isTrue(in: envelope) { return false }
            return true
        case .or(let nodes):
            for node in nodes where node.isTrue(in: envelope) { return true }
            return false
        }
    }

    /// `value OP literal`, with the literal's number read in advance.
    static func compare(_ value: JSONValue, _ comparison: WhereComparison, _ literal: WhereLiteral) -> Bool {
        switch (value, literal) {
        case (.number(let number), .number(let written)):
            if let right = written.integer, let left = Int64(number.literal) {
                return comparison.holds(left == right ? 0 : (left < right ? -1 : 1))
            }
            guard let left = ExactDecimal(number.literal) else { return false }
            return comparison.holds(left == written.decimal ? 0 : (left < written.decimal ? -1 : 1))
        case (.string(let left), .string(let right)):
            return compareStrings(left, comparison, right)
        case (.bool(let left), .bool(let right)):
            return comparison.holdsForEquality(left == right)
        case (.null, .null):
            return comparison.holdsForEquality(true)
        default:
            return false
        }
    }

    /// `left OP right` for any two values. Values of different types are never equal and never
    /// ordered; arrays and objects are equal member by member, and have no order.
    static func compare(_ left: JSONValue, _ comparison: WhereComparison, _ right: JSONValue) -> Bool {
        switch (left, right) {
        case (.number(let a), .number(let b)):
            if let x = Int64(a.literal), let y = Int64(b.literal) {
                return comparison.holds(x == y ? 0 : (x < y ? -1 : 1))
            }
            guard let x = ExactDecimal(a.literal), let y = ExactDecimal(b.literal) else { return false }
            return comparison.holds(x == y ? 0 : (x < y ? -1 : 1))
        case (.string(let a), .string(let b)):
            return compareStrings(a, comparison, b)
        case (.bool(let a), .bool(let b)):
            return comparison.holdsForEquality(a == b)
        case (.null, .null):
            return comparison.holdsForEquality(true)
        case (.array(let a), .array(let b)):
            return comparison.holdsForEquality(a.count == b.count && zip(a, b).allSatisfy { compare($0, .equal, $1) })
        case (.object(let a), .object(let b)):
            return comparison.holdsForEquality(objectsEqual(a, b))
        default:
            return false
        }
    }

    /// Strings compare by Unicode code point (their UTF-8 bytes), as JSON and most languages
    /// do, not by Swift's canonical equivalence: `"é"` written two ways is two strings.
    private static func compareStrings(_ left: String, _ comparison: WhereComparison, _ right: String) -> Bool {
        let equal = left.utf8.elementsEqual(right.utf8)
        guard comparison.isOrdering else { return comparison.holdsForEquality(equal) }
        if equal { return comparison.holds(0) }
        return comparison.holds(left.utf8.lexicographicallyPrecedes(right.utf8) ? -1 : 1)
    }

    /// Same keys (the last of a repeated key counts, as in lookups) with equal values.
    private static func objectsEqual(_ a: JSONObject, _ b: JSONObject) -> Bool {
        let keys = Set(a.keys)
        guard keys == Set(b.keys) else { return false }
        return keys.allSatisfy { key in
            guard let x = a[key], let y = b[key] else { return false }
            return compare(x, .equal, y)
        }
    }
}

extension WhereOperand {
    /// The operand's value; a missing path is `null`.
    func value(in envelope: EventEnvelope) -> JSONValue {
        switch self {
        case .path(let path): path.value(in: envelope) ?? .null
        case .literal(let literal): literal.json
        case .condition(let node): .bool(node.isTrue(in: envelope))
        }
    }
}

extension WhereComparison {
    /// Whether the operator holds for two values of one ordered type whose order is `order`
    /// (negative, zero or positive, as left minus right).
    @inline(__always)
    func holds(_ order: Int) -> Bool {
        switch self {
        case .equal: order == 0
        case .notEqual: order != 0
        case .less: order < 0
        case .lessOrEqual: order <= 0
        case .greater: order > 0
        case .greaterOrEqual: order >= 0
        }
    }

    /// Whether the operator holds for two values of one unordered type (booleans, null, arrays,
    /// objects): only `==` and `!=` can; an ordering is false.
    @inline(__always)
    func holdsForEquality(_ equal: Bool) -> Bool {
        switch self {
        case .equal: equal
        case .notEqual: !equal
        case .less, .lessOrEqual, .greater, .greaterOrEqual: false
        }
    }
}
