/// Turns a parsed `where` expression into a ``WhereNode``, reporting every name, function and
/// type problem it finds (not only the first).
///
/// Types are known where the text fixes them: literals, and `event_type`/`created_at` (strings).
/// A path into `data` can hold anything, so it is checked at run time, where a mismatch is false.
struct WhereCompiler {
    /// What is known of an operand's type before any event is seen.
    enum StaticType: Equatable {
        case null, boolean, number, string
        /// A path into `data`: any type, or missing.
        case unknown

        var name: String {
            switch self {
            case .null: "null"
            case .boolean: "a boolean"
            case .number: "a number"
            case .string: "a string"
            case .unknown: "a value"
            }
        }

        /// The type's name in the plural: "numbers".
        var plural: String {
            switch self {
            case .null: "nulls"
            case .boolean: "booleans"
            case .number: "numbers"
            case .string: "strings"
            case .unknown: "values"
            }
        }
    }

    private(set) var problems: [WhereExpression.Problem] = []

    private mutating func report(_ message: String, at offset: Int) {
        problems.append(WhereExpression.Problem(offset: offset, message: message))
    }

    /// Compiles `syntax` as a condition (something true or false).
    mutating func condition(_ syntax: WhereParser.Syntax) -> WhereNode {
        switch syntax.kind {
        case .literal(.bool(let value)):
            return .constant(value)
        case .literal(let literal):
            report("expected a condition, found \(Self.describe(literal)); compare it with a path, e.g. data.amount > 100", at: syntax.offset)
            return .constant(false)
        case .name(let parts):
            guard let path = path(parts, at: syntax.offset) else { return .constant(false) }
            if path.root != .data {
                report("\(path.root.rawValue) is a string, not a condition; compare it, e.g. event_type == \"points.earned\"", at: syntax.offset)
            }
            return .isTrue(path)
        case .call(let name, let arguments):
            return call(name, arguments, at: syntax.offset)
        case .compare(let left, let comparison, let right, let operatorAt):
            return compare(left, comparison, right, operatorAt: operatorAt)
        case .member(let left, let items, let negated, let operatorAt):
            let node = member(left, items, operatorAt: operatorAt)
            return negated ? .not(node) : node
        case .not(let inner):
            return .not(condition(inner))
        case .and(let terms):
            return .and(terms.map { condition($0) })
        case .or(let terms):
            return .or(terms.map { condition($0) })
        }
    }

    /// Compiles `syntax` as a comparison operand.
    private mutating func operand(_ syntax: WhereParser.Syntax) -> (WhereOperand, StaticType)? {
        switch syntax.kind {
        case .literal(let literal):
            return (.literal(literal), Self.type(of: literal))
        case .name(let parts):
            guard let path = path(parts, at: syntax.offset) else { return nil }
            return (.path(path), path.root == .data ? .unknown : .string)
        default:
            return (.condition(condition(syntax)), .boolean)
        }
    }

    private mutating func compare(
        _ left: WhereParser.Syntax, _ comparison: WhereComparison, _ right: WhereParser.Syntax, operatorAt: Int
    ) -> WhereNode {
        let compiledLeft = operand(left)
        let compiledRight = operand(right)
        guard let (a, typeA) = compiledLeft, let (b, typeB) = compiledRight else { return .constant(false) }
        var sound = true
        if comparison.isOrdering {
            for (type, side) in [(typeA, left), (typeB, right)] where type == .boolean || type == .null {
                report("'\(comparison.rawValue)' orders numbers or strings; this is \(type.name)", at: side.offset)
                sound = false
            }
        }
        if sound, typeA != .unknown, typeB != .unknown, typeA != typeB {
            report(
                "this compares \(typeA.name) with \(typeB.name), which is always false: values of different types never compare true",
                at: operatorAt)
            sound = false
        }
        if sound, comparison == .notEqual, typeA == .null || typeB == .null {
            let path = [left, right].compactMap(Self.pathText).first ?? "data.x"
            report(
                "'!= null' is always false: values of different types never compare true; "
                    + "write exists(\(path)) to test that a field is there, or not (\(path) == null)",
                at: operatorAt)
            sound = false
        }
        checkEventTypes(compared: [(a, left.offset), (b, right.offset)])
        guard sound else { return .constant(false) }
        switch (a, b) {
        case (.path(let path), .literal(let literal)):
            return .comparePath(path, comparison, literal)
        case (.literal(let literal), .path(let path)):
            return .comparePath(path, comparison.flipped, literal)
        default:
            return .compare(a, comparison, b)
        }
    }

    private mutating func member(_ left: WhereParser.Syntax, _ items: [WhereParser.Syntax], operatorAt: Int) -> WhereNode {
        let compiled = operand(left)
        var literals: [(WhereLiteral, Int)] = []
        for item in items {
            guard case .literal(let literal) = item.kind else {
                report("a list after 'in' holds literals (strings, numbers, true, false, null)", at: item.offset)
                continue
            }
            literals.append((literal, item.offset))
        }
        guard let (value, type) = compiled else { return .constant(false) }
        if type != .unknown, !literals.isEmpty, !literals.contains(where: { Self.type(of: $0.0) == type }) {
            report("this compares \(type.name) with a list that holds no \(type.plural), which is always false", at: operatorAt)
        }
        checkEventTypes(compared: [(value, left.offset)] + literals.map { (.literal($0.0), $0.1) })
        return .member(value, literals.map(\.0))
    }

    /// In a comparison or list that involves `event_type`, every string literal must be a
    /// catalogued event type: a misspelt one would never match, silently.
    private mutating func checkEventTypes(compared operands: [(WhereOperand, Int)]) {
        guard operands.contains(where: { if case .path(let path) = $0.0 { path.root == .eventType } else { false } }) else { return }
        for case (.literal(.string(let name)), let offset) in operands where EventCatalogue.type(named: name) == nil {
            report("unknown event type '\(name)'\(Suggestion.didYouMean(name, in: EventCatalogue.names))", at: offset)
        }
    }

    private mutating func call(_ name: String, _ arguments: [WhereParser.Syntax], at offset: Int) -> WhereNode {
        guard let function = WhereFunction(rawValue: name) else {
            let hint = Suggestion.didYouMean(name, in: WhereFunction.allCases.map(\.rawValue))
            report(
                "unknown function '\(name)'\(hint.isEmpty ? "; the functions are exists(path) and starts_with(path, \"prefix\")" : hint)",
                at: offset)
            return .constant(false)
        }
        switch function {
        case .exists:
            guard arguments.count == 1, case .name(let parts) = arguments[0].kind else {
                report("exists takes one path, e.g. exists(data.reward.sku)", at: arguments.first?.offset ?? offset)
                return .constant(false)
            }
            return path(parts, at: arguments[0].offset).map(WhereNode.exists) ?? .constant(false)
        case .startsWith:
            guard arguments.count == 2 else {
                report("starts_with takes a path and a string, e.g. starts_with(data.reason, \"Purchase\")", at: offset)
                return .constant(false)
            }
            var parts: [String]?
            if case .name(let names) = arguments[0].kind { parts = names } else {
                report("the first argument of starts_with is a path, e.g. data.reason", at: arguments[0].offset)
            }
            var prefix: String?
            if case .literal(.string(let text)) = arguments[1].kind { prefix = text } else {
                report("the second argument of starts_with is a quoted string", at: arguments[1].offset)
            }
            guard let parts, let prefix, let path = path(parts, at: arguments[0].offset) else { return .constant(false) }
            return .startsWith(path, prefix)
        }
    }

    /// Resolves a name to an envelope path, reporting unknown roots.
    private mutating func path(_ parts: [String], at offset: Int) -> WherePath? {
        let written = Self.pathDescription(parts)
        guard let root = WherePath.Root(rawValue: parts[0]) else {
            if parts[0] == "id" {
                report(
                    "the envelope's 'id' is the delivery id, made per sink after filtering, so 'where' cannot test it", at: offset)
            } else {
                let roots = ["data", "event_type", "created_at"]
                let hint = Suggestion.didYouMean(parts[0], in: roots)
                report(
                    "unknown name '\(parts[0])': a path starts at data, event_type or created_at, and a string needs quotes\(hint)",
                    at: offset)
            }
            return nil
        }
        if root != .data, parts.count > 1 {
            report("\(root.rawValue) is a string; it has no key '\(parts[1])'", at: offset)
            return nil
        }
        let segments = parts.dropFirst().map { WherePath.Segment(key: $0, index: Int($0).flatMap { $0 >= 0 ? $0 : nil }) }
        return WherePath(root: root, segments: segments, description: written)
    }

    private static func pathDescription(_ parts: [String]) -> String {
        var text = parts[0]
        for part in parts.dropFirst() {
            let plain = !part.isEmpty && part.allSatisfy(WhereLexer.isNameCharacter)
            text += plain ? ".\(part)" : "[\(String(reflecting: part))]"
        }
        return text
    }

    private static func pathText(_ syntax: WhereParser.Syntax) -> String? {
        if case .name(let parts) = syntax.kind { return pathDescription(parts) }
        return nil
    }

    private static func type(of literal: WhereLiteral) -> StaticType {
        switch literal {
        case .null: .null
        case .bool: .boolean
        case .number: .number
        case .string: .string
        }
    }

    private static func describe(_ literal: WhereLiteral) -> String {
        switch literal {
        case .null: "null"
        case .bool(let value): String(value)
        case .number(let number): "the number \(number.literal)"
        case .string(let text): "the string \(String(reflecting: text))"
        }
    }
}

extension WhereComparison {
    /// The operator with its operands swapped: `5 < x` is `x > 5`.
    var flipped: WhereComparison {
        switch self {
        case .equal, .notEqual: self
        case .less: .greater
        case .lessOrEqual: .greaterOrEqual
        case .greater: .less
        case .greaterOrEqual: .lessOrEqual
        }
    }
}
