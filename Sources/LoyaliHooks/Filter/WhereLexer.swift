/// Splits a `where` expression into tokens, each with the character offset it starts at.
struct WhereLexer {
    /// One token.
    struct Token: Sendable {
        enum Kind: Sendable, Equatable {
            /// A name and the keys after it: `data.reward.sku`, `data["x-y"]`, `exists`, `and`.
            case name([String])
            case number(String)
            case string(String)
            case comparison(WhereComparison)
            case leftParenthesis, rightParenthesis, leftBracket, rightBracket, comma
            case end
        }

        var kind: Kind
        /// 0-based character offset of the token's first character.
        var offset: Int
        /// The token as written.
        var text: String

        /// The keyword this token is, if it is a bare word such as `and`.
        var word: String? {
            if case .name(let parts) = kind, parts.count == 1, parts[0] == text { return text }
            return nil
        }
    }

    private let characters: [Character]
    private var position = 0

    init(_ source: String) { characters = Array(source) }

    /// Every token, ending with `.end`, or the first problem.
    mutating func tokens() -> Result<[Token], WhereExpression.Problem> {
        var tokens: [Token] = []
        while true {
            switch next() {
            case .success(let token):
                tokens.append(token)
                if token.kind == .end { return .success(tokens) }
            case .failure(let problem):
                return .failure(problem)
            }
        }
    }

    private func problem(_ message: String, at offset: Int) -> Result<Token, WhereExpression.Problem> {
        .failure(WhereExpression.Problem(offset: offset, message: message))
    }

    private func peek(_ ahead: Int = 0) -> Character? {
        position + ahead < characters.count ? characters[position + ahead] : nil
    }

    private func token(_ kind: Token.Kind, from start: Int) -> Result<Token, WhereExpression.Problem> {
        .success(Token(kind: kind, offset: start, text: String(characters[start..<position])))
    }

    private mutating func next() -> Result<Token, WhereExpression.Problem> {
        while let c = peek(), c.isWhitespace || c.isNewline { position += 1 }
        let start = position
        guard let c = peek() else { return .success(Token(kind: .end, offset: position, text: "")) }
        position += 1
        switch c {
        case "(": return token(.leftParenthesis, from: start)
        case ")": return token(.rightParenthesis, from: start)
        case "[": return token(.leftBracket, from: start)
        case "]": return token(.rightBracket, from: start)
        case ",": return token(.comma, from: start)
        case "=", "!", "<", ">": return comparison(c, from: start)
        case "&" where peek() == "&": return problem("use 'and' to join conditions, not '&&'", at: start)
        case "|" where peek() == "|": return problem("use 'or' to join conditions, not '||'", at: start)
        case "\"", "'": return string(quote: c, from: start)
        default:
            if c.isASCII, c.isNumber || (c == "-" && peek()?.isASCII == true && peek()!.isNumber) { return number(from: start) }
            if Self.isNameStart(c) { return name(from: start) }
            if c == "." { return problem("a path starts at data, event_type or created_at, e.g. data.amount", at: start) }
            return problem("unexpected character '\(c)'", at: start)
        }
    }

    private mutating func comparison(_ c: Character, from start: Int) -> Result<Token, WhereExpression.Problem> {
        let followedByEquals = peek() == "="
        if followedByEquals { position += 1 }
        switch (c, followedByEquals) {
        case ("=", true): return token(.comparison(.equal), from: start)
        case ("!", true): return token(.comparison(.notEqual), from: start)
        case ("<", false) where peek() == ">": return problem("use '!=' for 'not equal', not '<>'", at: start)
        case ("<", false): return token(.comparison(.less), from: start)
        case ("<", true): return token(.comparison(.lessOrEqual), from: start)
        case (">", false): return token(.comparison(.greater), from: start)
        case (">", true): return token(.comparison(.greaterOrEqual), from: start)
        case ("=", false): return problem("use '==' to compare, not '='", at: start)
        default: return problem("use 'not' to negate a condition, not '!'", at: start)
        }
    }

    /// JSON number grammar, with leading zeros allowed.
    private mutating func number(from start: Int) -> Result<Token, WhereExpression.Problem> {
        skipDigits()
        if peek() == ".", peek(1)?.isASCII == true, peek(1)!.isNumber {
            position += 1
            skipDigits()
        } else if peek() == "." {
            return problem("a number needs a digit after the decimal point", at: position + 1)
        }
        if peek() == "e" || peek() == "E" {
            position += 1
            if peek() == "+" || peek() == "-" { position += 1 }
            guard let digit = peek(), digit.isASCII, digit.isNumber else {
                return problem("a number needs a digit in its exponent", at: position)
            }
            skipDigits()
        }
        if let after = peek(), Self.isNameStart(after) || after == "." {
            return problem("unexpected '\(after)' after the number \(String(characters[start..<position]))", at: position)
        }
        let text = String(characters[start..<position])
        return token(.number(text), from: start)
    }

    private mutating func skipDigits() {
        while let c = peek(), c.isASCII, c.isNumber { position += 1 }
    }

    /// A quoted string; escapes follow JSON (`\"`, `\\`, `\n`, `\u00e9`, …), plus `\'`.
    private mutating func string(quote: Character, from start: Int) -> Result<Token, WhereExpression.Problem> {
        var value = ""
        while let c = peek() {
            position += 1
            if c == quote { return token(.string(value), from: start) }
            guard c == "\\" else {
                value.append(c)
                continue
            }
            guard let escaped = peek() else { break }
            position += 1
            switch escaped {
            case "\"", "'", "\\", "/": value.append(escaped)
            case "n": value.append("\n")
            case "t": value.append("\t")
            case "r": value.append("\r")
            case "b": value.append("\u{8}")
            case "f": value.append("\u{C}")
            case "u":
                guard let scalar = unicodeEscape() else {
                    return problem("'\\u' needs four hex digits naming a Unicode scalar", at: position - 2)
                }
                value.unicodeScalars.append(scalar)
            default:
                return problem("unknown escape '\\\(escaped)' in a string", at: position - 2)
            }
        }
        return problem("unterminated string; expected a closing \(quote)", at: start)
    }

    /// The scalar of `XXXX` after `\u` (a surrogate pair written as two escapes joins into one).
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        func hex4() -> UInt32? {
            guard position + 4 <= characters.count else { return nil }
            let digits = String(characters[position..<(position + 4)])
            guard digits.allSatisfy(\.isHexDigit), let value = UInt32(digits, radix: 16) else { return nil }
            position += 4
            return value
        }
        guard let high = hex4() else { return nil }
        if (0xD800..<0xDC00).contains(high) {
            guard peek() == "\\", peek(1) == "u" else { return nil }
            position += 2
            guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
            return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        }
        return Unicode.Scalar(high)
    }

    /// A name and the keys after it: `.key`, `.0`, `["any key"]` and `[0]` (brackets only right
    /// after a key, so `in ["a"]` stays a keyword and a list).
    private mutating func name(from start: Int) -> Result<Token, WhereExpression.Problem> {
        position = start
        var parts = [word()]
        let keywords: Set<String> = ["and", "or", "not", "in", "true", "false", "null"]
        if keywords.contains(parts[0]) { return token(.name(parts), from: start) }
        while let c = peek() {
            if c == "." {
                position += 1
                guard let first = peek(), Self.isNameCharacter(first) else {
                    return problem("expected a key after '.'", at: position)
                }
                parts.append(word())
            } else if c == "[" {
                guard let key = bracketKey() else {
                    return problem("expected a quoted key or an index and ']' after '[', e.g. data[\"x-y\"] or data.items[0]", at: position)
                }
                parts.append(key)
            } else {
                break
            }
        }
        if peek() == "-", let after = peek(1), Self.isNameCharacter(after) {
            return problem("a key with '-' is written in brackets, e.g. data[\"customer-id\"]", at: position)
        }
        return token(.name(parts), from: start)
    }

    private mutating func word() -> String {
        let start = position
        while let c = peek(), Self.isNameCharacter(c) { position += 1 }
        return String(characters[start..<position])
    }

    /// `["key"]`, `['key']` or `[0]`; `nil` (position unchanged) when malformed.
    private mutating func bracketKey() -> String? {
        let saved = position
        position += 1
        var key: String?
        if let quote = peek(), quote == "\"" || quote == "'" {
            let start = position
            position += 1
            if case .success(let token) = string(quote: quote, from: start), case .string(let text) = token.kind { key = text }
        } else if let digit = peek(), digit.isASCII, digit.isNumber {
            let digitsStart = position
            skipDigits()
            key = String(characters[digitsStart..<position])
        }
        guard let key, peek() == "]" else {
            position = saved
            return nil
        }
        position += 1
        return key
    }

    static func isNameStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }

    static func isNameCharacter(_ c: Character) -> Bool { c == "_" || (c.isASCII && (c.isLetter || c.isNumber)) }
}
