import Foundation

/// A pipeline's `filter.where`: a condition over the envelope, compiled once when the pipeline
/// loads and evaluated for every event the event-type filter lets through, before any transform
/// step runs.
///
/// ```yaml
/// filter:
///   events: [points.earned]
///   where: data.amount >= 500 and data.tier in ["gold", "platinum"]
/// ```
///
/// The language: comparisons (`== != < <= > >=`), `in [ … ]` and `not in [ … ]`, `and`, `or`,
/// `not`, parentheses, `exists(path)`, `starts_with(path, "…")`, and string, number, `true`,
/// `false` and `null` literals. Paths start at `data`, `event_type` or `created_at`. Numbers
/// compare as exact decimals; values of different types never compare true (every operator,
/// `!=` included, is false); a missing path is `null`. Nothing in it can fail at run time.
public struct WhereExpression: Sendable, CustomStringConvertible {
    /// The expression as written in the pipeline file.
    public let source: String
    /// The compiled condition.
    let root: WhereNode

    /// A problem found while compiling, at a character offset of the expression.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        /// The 0-based character offset in the expression the problem points at.
        public var offset: Int
        /// One sentence.
        public var message: String

        public var description: String { "column \(offset + 1) of the expression: \(message)" }
    }

    /// Every problem that kept an expression from compiling.
    public struct Failure: Error, Sendable, Equatable {
        /// In the order found; a syntax error stops the search, so it comes alone.
        public var problems: [Problem]
    }

    /// Compiles `source`.
    public static func compile(_ source: String) -> Result<WhereExpression, Failure> {
        var parser = WhereParser(source)
        switch parser.parse() {
        case .success(let root): return .success(WhereExpression(source: source, root: root))
        case .failure(let failure): return .failure(failure)
        }
    }

    /// Whether `envelope` passes the condition.
    @inline(__always)
    public func matches(_ envelope: EventEnvelope) -> Bool {
        root.isTrue(in: envelope)
    }

    /// The expression on one line, each line of a block or folded one trimmed and joined with a
    /// space, for listings.
    public var singleLine: String {
        source.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    public var description: String { source }
}

/// The functions `where` knows, for the parser and "did you mean".
enum WhereFunction: String, CaseIterable {
    case exists
    case startsWith = "starts_with"
}

/// A comparison operator.
enum WhereComparison: String, Sendable {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="

    /// Whether the operator orders its operands (only numbers and strings have an order).
    var isOrdering: Bool { self != .equal && self != .notEqual }
}

/// A path into the envelope, resolved at compile time to the field it starts at.
struct WherePath: Sendable, CustomStringConvertible {
    /// The envelope field the path starts at.
    enum Root: String, Sendable {
        case data
        case eventType = "event_type"
        case createdAt = "created_at"
    }

    /// One step below `data`: an object key, which also indexes an array when it is a number.
    struct Segment: Sendable {
        var key: String
        var index: Int?
    }

    var root: Root
    /// Steps below `data` (always empty for `event_type` and `created_at`).
    var segments: [Segment]
    /// The path as written, for messages.
    var description: String

    /// The value at the path, or `nil` when it is missing.
    @inline(__always)
    func value(in envelope: EventEnvelope) -> JSONValue? {
        switch root {
        case .eventType: return .string(envelope.eventType)
        case .createdAt: return .string(envelope.createdAt)
        case .data: break
        }
        var current = envelope.data
        for segment in segments {
            switch current {
            case .object(let object):
                guard let next = object[segment.key] else { return nil }
                current = next
            case .array(let items):
                guard let index = segment.index, items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }
}

/// A literal written in the expression, with numbers read once into their exact value.
enum WhereLiteral: Sendable {
    case null
    case bool(Bool)
    case number(WhereNumber)
    case string(String)

    /// The literal as a JSON value, for comparisons in their general form.
    var json: JSONValue {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .number(let number): .number(JSONNumber(literal: number.literal))
        case .string(let text): .string(text)
        }
    }
}

/// A number literal: its text, its exact value, and the value as an integer when it is one.
struct WhereNumber: Sendable {
    var literal: String
    var decimal: ExactDecimal
    /// Set when the literal is written as an integer that fits, for the common integer-only case.
    var integer: Int64?

    init?(_ literal: String) {
        guard let decimal = ExactDecimal(literal) else { return nil }
        self.literal = literal
        self.decimal = decimal
        integer = Int64(literal)
    }
}

/// An operand of a comparison in its general form.
indirect enum WhereOperand: Sendable {
    case path(WherePath)
    case literal(WhereLiteral)
    /// A condition used as a value, e.g. `exists(data.sku) == false`.
    case condition(WhereNode)
}

/// A compiled condition.
indirect enum WhereNode: Sendable {
    case constant(Bool)
    /// A bare path: true when its value is `true`.
    case isTrue(WherePath)
    /// `path OP literal`, the common case, with the literal read in advance.
    case comparePath(WherePath, WhereComparison, WhereLiteral)
    /// Any other comparison.
    case compare(WhereOperand, WhereComparison, WhereOperand)
    /// `operand in [literals]`.
    case member(WhereOperand, [WhereLiteral])
    case exists(WherePath)
    case startsWith(WherePath, String)
    case not(WhereNode)
    case and([WhereNode])
    case or([WhereNode])
}
