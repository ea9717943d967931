/// Strings that must never be shown, each with what to show in its place: the values of
/// environment variables a sink URL was built from (shown as `${NAME}`), or secrets written
/// literally into a pipeline file (shown as `********`).
///
/// Messages can quote a value from far away: libcurl names the host it could not reach, a
/// receiver's error page echoes the request line, another field's error quotes a YAML alias of a
/// secret. Passing such text through a redaction covers every one of them, where fixing each
/// message would miss the next.
public struct TextRedaction: Sendable, Equatable {
    /// One hidden string and its stand-in.
    public struct Replacement: Sendable, Equatable {
        /// The text to hide.
        public var hidden: String
        /// What appears instead.
        public var shownAs: String

        public init(hidden: String, shownAs: String) {
            self.hidden = hidden
            self.shownAs = shownAs
        }
    }

    /// Longest first, so a value that contains another is replaced whole.
    public private(set) var replacements: [Replacement]

    /// Hidden strings shorter than this are left alone: no credential is that short, and hiding
    /// `t` or `eu` would garble every message it touches (`source.**oken`).
    public static let shortestHidden = 6

    /// A redaction of `replacements`; hidden strings shorter than ``shortestHidden`` are ignored.
    public init(_ replacements: [Replacement] = []) {
        self.replacements = []
        for replacement in replacements { add(replacement) }
    }

    /// Whether nothing is hidden.
    public var isEmpty: Bool { replacements.isEmpty }

    /// Adds one more string to hide.
    public mutating func add(_ replacement: Replacement) {
        guard replacement.hidden.count >= Self.shortestHidden, !replacements.contains(replacement) else { return }
        let index = replacements.firstIndex { $0.hidden.utf8.count < replacement.hidden.utf8.count } ?? replacements.endIndex
        replacements.insert(replacement, at: index)
    }

    /// `text` with every hidden string replaced by its stand-in.
    public func apply(_ text: String) -> String {
        guard !replacements.isEmpty else { return text }
        var out = text
        for replacement in replacements where out.contains(replacement.hidden) {
            out = out.replacing(replacement.hidden, with: replacement.shownAs)
        }
        return out
    }
}
