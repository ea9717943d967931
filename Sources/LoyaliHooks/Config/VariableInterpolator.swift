/// Expands `${VAR}` and `${VAR:-default}` in config values; `$$` writes a literal `$`.
///
/// The expansion remembers whether a value came from the environment, which is how the loader
/// tells a secret that is properly referenced apart from one pasted into a version-controlled file.
public struct VariableInterpolator: Sendable {
    /// The variables visible to the config, usually the process environment.
    public var environment: [String: String]

    public init(environment: [String: String]) { self.environment = environment }

    /// The result of expanding one value.
    public struct Expansion: Sendable, Equatable {
        /// The expanded text.
        public var value: String
        /// True when the text had at least one `${…}` reference.
        public var hasReferences: Bool
        /// True when some characters of the result were written literally in the file (outside
        /// references, or in a non-empty `:-default`).
        public var hasLiteralText: Bool
        /// Each environment value the text took in, with the reference that brought it in, so
        /// that messages can show `${NAME}` wherever the value would otherwise appear.
        public var substitutions: [TextRedaction.Replacement] = []
        /// The text as it may be shown: what the file wrote, defaults included, with each value
        /// taken from the environment left as its `${NAME}`. `${URL:-http://127.0.0.1/in}` shows
        /// as `http://127.0.0.1/in` when `URL` is unset, and as `${URL}` when it is set.
        public var shown: String
        /// The undefined variables a placeholder stood in for (see ``expand(_:placeholder:)``),
        /// each with the character offset of its `${` in the value; empty otherwise.
        public var missing: [MissingVariable] = []

        /// An expansion; `substitutions` lists the environment values it took in, `shown` is the
        /// text without them (`value` when `nil`).
        public init(
            value: String, hasReferences: Bool, hasLiteralText: Bool, substitutions: [TextRedaction.Replacement] = [],
            shown: String? = nil
        ) {
            self.value = value
            self.hasReferences = hasReferences
            self.hasLiteralText = hasLiteralText
            self.substitutions = substitutions
            self.shown = shown ?? value
        }
    }

    /// An undefined variable a placeholder stood in for.
    public struct MissingVariable: Sendable, Equatable {
        /// The variable's name.
        public var name: String
        /// The character offset of its `${` in the value.
        public var offset: Int
    }

    /// Why an expansion failed, and at which character offset of the value.
    public struct Failure: Error, Sendable, Equatable {
        public var offset: Int
        public var message: String
    }

    /// Expands `text`, failing on an undefined variable without default or a malformed reference.
    public func expand(_ text: String) -> Result<Expansion, Failure> {
        expand(text, placeholder: nil)
    }

    /// Expands `text`; an undefined variable without default takes `placeholder(name, offset,
    /// text)` instead of failing, when given, and is listed in the expansion's `missing`. This
    /// is how `validate` checks a file whose secrets are not set (in CI): the placeholder is a
    /// well-formed stand-in for the kind of value (a secret, a token, part of a URL).
    public func expand(_ text: String, placeholder: ((_ name: String, _ offset: Int, _ text: [Character]) -> String)?) -> Result<Expansion, Failure> {
        // Byte searches here, not Foundation's substring search: every config value comes through.
        guard text.utf8.contains(UInt8(ascii: "$")) else {
            return .success(Expansion(value: text, hasReferences: false, hasLiteralText: !text.isEmpty))
        }
        let chars = Array(text)
        var out = ""
        var shown = ""
        var hasReferences = false
        var hasLiteral = false
        var substitutions: [TextRedaction.Replacement] = []
        var missing: [MissingVariable] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "$", i + 1 < chars.count, chars[i + 1] == "$" {
                out.append("$")
                shown.append("$")
                hasLiteral = true
                i += 2
                continue
            }
            guard c == "$", i + 1 < chars.count, chars[i + 1] == "{" else {
                out.append(c)
                shown.append(c)
                hasLiteral = true
                i += 1
                continue
            }
            guard let close = chars[(i + 2)...].firstIndex(of: "}") else {
                return .failure(Failure(offset: i, message: "unterminated variable reference; expected '}'"))
            }
            let body = String(chars[(i + 2)..<close])
            let name: String
            let fallback: String?
            if let colon = chars[(i + 2)..<close].indices.first(where: { chars[$0] == ":" && $0 + 1 < close && chars[$0 + 1] == "-" }) {
                name = String(chars[(i + 2)..<colon])
                fallback = String(chars[(colon + 2)..<close])
            } else {
                name = body
                fallback = nil
            }
            guard Self.isValidName(name) else {
                return .failure(Failure(offset: i, message: "invalid variable name '\(name)' in '${\(body)}'"))
            }
            hasReferences = true
            if let value = environment[name], !(value.isEmpty && fallback != nil) {
                out += value
                shown += "${\(name)}"
                if !value.isEmpty { substitutions.append(TextRedaction.Replacement(hidden: value, shownAs: "${\(name)}")) }
            } else if let fallback {
                out += fallback
                shown += fallback
                if !fallback.isEmpty { hasLiteral = true }
            } else if let placeholder {
                out += placeholder(name, i, chars)
                shown += "${\(name)}"
                missing.append(MissingVariable(name: name, offset: i))
            } else {
                return .failure(Failure(
                    offset: i,
                    message: "undefined variable '\(name)'; set it in the environment or write ${\(name):-default}"))
            }
            i = close + 1
        }
        var expansion = Expansion(
            value: out, hasReferences: hasReferences, hasLiteralText: hasLiteral, substitutions: substitutions, shown: shown)
        expansion.missing = missing
        return .success(expansion)
    }

    /// Variable names follow the shell: a letter or underscore, then letters, digits, underscores.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}
