/// Parses a `where` expression into a syntax tree, then compiles the tree into a ``WhereNode``,
/// checking names, functions and types on the way.
///
/// Precedence, loosest first: `or`, `and`, `not`, then one comparison (`==`, `in [ … ]`, …).
/// So `not data.a == 1 or data.b` is `(not (data.a == 1)) or data.b`.
struct WhereParser {
    /// A node of the syntax tree, with the offset of the character it starts at.
    struct Syntax {
        indirect enum Kind {
            case literal(WhereLiteral)
            case name([String])
            case call(String, [Syntax])
            case compare(Syntax, WhereComparison, Syntax, operatorAt: Int)
            case member(Syntax, [Syntax], negated: Bool, operatorAt: Int)
            case not(Syntax)
            case and([Syntax])
            case or([Syntax])
        }

        var kind: Kind
        var offset: Int
    }

    /// Parentheses and `not`s nest at most this deep, so no expression can exhaust the stack.
    static let maximumDepth = 64

    private let source: String
    private var tokens: [WhereLexer.Token] = []
    private var index = 0
    private var depth = 0

    init(_ source: String) { self.source = source }

    /// The compiled condition, or the problems found.
    mutating func parse() -> Result<WhereNode, WhereExpression.Failure> {
        var lexer = WhereLexer(source)
        switch lexer.tokens() {
        case .success(let tokens): self.tokens = tokens
        case .failure(let problem): return .failure(WhereExpression.Failure(problems: [problem]))
        }
        if tokens.count == 1 {
            let empty = WhereExpression.Problem(offset: 0, message: "the expression is empty; write a condition such as data.amount > 100")
            return .failure(WhereExpression.Failure(problems: [empty]))
        }
        let syntax: Syntax
        do throws(WhereExpression.Problem) {
            syntax = try disjunction()
            if current.kind != .end {
                throw problem(
                    "unexpected \(describe(current)) after a complete condition; join conditions with 'and' or 'or'", at: current)
            }
        } catch {
            return .failure(WhereExpression.Failure(problems: [error]))
        }
        var compiler = WhereCompiler()
        let node = compiler.condition(syntax)
        return compiler.problems.isEmpty ? .success(node) : .failure(WhereExpression.Failure(problems: compiler.problems))
    }

    // MARK: Tokens

    private var current: WhereLexer.Token { tokens[index] }

    private mutating func advance() -> WhereLexer.Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private func isWord(_ word: String) -> Bool { current.word == word }

    private func problem(_ message: String, at token: WhereLexer.Token) -> WhereExpression.Problem {
        WhereExpression.Problem(offset: token.offset, message: message)
    }

    private func describe(_ token: WhereLexer.Token) -> String {
        token.kind == .end ? "the end of the expression" : "'\(token.text)'"
    }

    // MARK: Grammar

    private mutating func disjunction() throws(WhereExpression.Problem) -> Syntax {
        let first = try conjunction()
        var terms = [first]
        while isWord("or") {
            _ = advance()
            terms.append(try conjunction())
        }
        return terms.count == 1 ? first : Syntax(kind: .or(terms), offset: first.offset)
    }

    private mutating func conjunction() throws(WhereExpression.Problem) -> Syntax {
        let first = try negation()
        var terms = [first]
        while isWord("and") {
            _ = advance()
            terms.append(try negation())
        }
        return terms.count == 1 ? first : Syntax(kind: .and(terms), offset: first.offset)
    }

    private mutating func negation() throws(WhereExpression.Problem) -> Syntax {
        guard isWord("not") else { return try comparison() }
        let not = advance()
        try nest(at: not)
        defer { depth -= 1 }
        return Syntax(kind: .not(try negation()), offset: not.offset)
    }

    private mutating func nest(at token: WhereLexer.Token) throws(WhereExpression.Problem) {
        depth += 1
        if depth > Self.maximumDepth {
            throw problem("the expression nests more than \(Self.maximumDepth) levels deep", at: token)
        }
    }

    private mutating func comparison() throws(WhereExpression.Problem) -> Syntax {
        let left = try operand()
        var result = left
        if case .comparison(let comparison) = current.kind {
            let op = advance()
            let right = try operand()
            result = Syntax(kind: .compare(left, comparison, right, operatorAt: op.offset), offset: left.offset)
        } else if isWord("in") || (isWord("not") && tokens[index + 1].word == "in") {
            let op = advance()
            let negated = op.word == "not"
            if negated { _ = advance() }
            result = Syntax(kind: .member(left, try list(), negated: negated, operatorAt: op.offset), offset: left.offset)
        }
        if case .comparison = current.kind {
            throw problem("comparisons do not chain; join them with 'and', e.g. 1 < data.x and data.x < 5", at: current)
        }
        if isWord("in") {
            throw problem("'in' tests one value against a list; join several tests with 'and' or 'or'", at: current)
        }
        return result
    }

    private mutating func list() throws(WhereExpression.Problem) -> [Syntax] {
        guard current.kind == .leftBracket else {
            throw problem("expected '[' after 'in', e.g. in [\"gold\", \"platinum\"]; found \(describe(current))", at: current)
        }
        let open = advance()
        return try items(
            closedBy: .rightBracket,
            unclosed: "the list opened at column \(open.offset + 1) has no closing ']'",
            unexpected: "expected ',' or ']' in the list")
    }

    private mutating func operand() throws(WhereExpression.Problem) -> Syntax {
        let token = advance()
        switch token.kind {
        case .number(let text):
            guard let number = WhereNumber(text) else { throw problem("'\(text)' is not a number", at: token) }
            return Syntax(kind: .literal(.number(number)), offset: token.offset)
        case .string(let text):
            return Syntax(kind: .literal(.string(text)), offset: token.offset)
        case .leftParenthesis:
            try nest(at: token)
            defer { depth -= 1 }
            let inner = try disjunction()
            guard current.kind == .rightParenthesis else {
                throw problem(
                    "expected ')' to close the '(' at column \(token.offset + 1), found \(describe(current))", at: current)
            }
            _ = advance()
            return inner
        case .name(let parts):
            switch token.word {
            case "true": return Syntax(kind: .literal(.bool(true)), offset: token.offset)
            case "false": return Syntax(kind: .literal(.bool(false)), offset: token.offset)
            case "null": return Syntax(kind: .literal(.null), offset: token.offset)
            case "and", "or", "not", "in":
                throw problem("expected a value (a path, a literal or '('), found '\(token.text)'", at: token)
            default: break
            }
            guard current.kind == .leftParenthesis else { return Syntax(kind: .name(parts), offset: token.offset) }
            guard let name = token.word else { throw problem("'\(token.text)' is a path, not a function", at: token) }
            return Syntax(kind: .call(name, try arguments()), offset: token.offset)
        default:
            throw problem("expected a value (a path, a literal or '('), found \(describe(token))", at: token)
        }
    }

    private mutating func arguments() throws(WhereExpression.Problem) -> [Syntax] {
        let open = advance()
        return try items(
            closedBy: .rightParenthesis,
            unclosed: "the '(' at column \(open.offset + 1) has no closing ')'",
            unexpected: "expected ',' or ')' after an argument")
    }

    /// The comma-separated operands after an opening bracket or parenthesis, up to `closing`:
    /// the one reader behind `in [ … ]` lists and function arguments, so both report a missing
    /// closer and a stray token the same way.
    private mutating func items(
        closedBy closing: WhereLexer.Token.Kind, unclosed: String, unexpected: String
    ) throws(WhereExpression.Problem) -> [Syntax] {
        var items: [Syntax] = []
        if current.kind == closing {
            _ = advance()
            return items
        }
        while true {
            items.append(try operand())
            let separator = advance()
            if separator.kind == .comma { continue }
            if separator.kind == closing { return items }
            if separator.kind == .end { throw problem(unclosed, at: separator) }
            throw problem("\(unexpected), found \(describe(separator))", at: separator)
        }
    }
}
