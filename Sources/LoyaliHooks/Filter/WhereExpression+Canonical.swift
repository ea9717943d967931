extension WhereExpression {
    /// The compiled condition written back in one spelling: every compound part in parentheses,
    /// numbers by decimal value, strings JSON-quoted. Two expressions that differ only in spacing,
    /// line breaks, redundant parentheses, how a number is written (`500` or `5e2`) or which side
    /// of a comparison the path is on read the same; `diff` compares these.
    public var canonical: String { root.canonical }
}

extension WhereNode {
    var canonical: String {
        switch self {
        case .constant(let value): return String(value)
        case .isTrue(let path): return path.description
        case .comparePath(let path, let comparison, let literal): return "\(path.description) \(comparison.rawValue) \(literal.canonical)"
        case .compare(let left, let comparison, let right): return "\(left.canonical) \(comparison.rawValue) \(right.canonical)"
        case .member(let operand, let literals): return "\(operand.canonical) in [\(literals.map(\.canonical).joined(separator: ", "))]"
        case .exists(let path): return "exists(\(path.description))"
        case .startsWith(let path, let prefix): return "starts_with(\(path.description), \(WhereLiteral.string(prefix).canonical))"
        case .not(let inner): return "not (\(inner.canonical))"
        case .and(let parts): return parts.map { "(\($0.canonical))" }.joined(separator: " and ")
        case .or(let parts): return parts.map { "(\($0.canonical))" }.joined(separator: " or ")
        }
    }
}

extension WhereOperand {
    var canonical: String {
        switch self {
        case .path(let path): path.description
        case .literal(let literal): literal.canonical
        case .condition(let node): "(\(node.canonical))"
        }
    }
}

extension WhereLiteral {
    var canonical: String {
        switch self {
        case .number(let number): return JSONComparison.canonicalDecimal(number.literal)
        default:
            var bytes: [UInt8] = []
            json.serialize(into: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
