/// One entry of a pipeline's `filter.events` or `filter.exclude` list.
///
/// Three forms are accepted:
/// - an exact name, `points.earned`;
/// - a prefix, `points.*`, which matches every type one or more segments below `points`
///   (`points.earned`) but neither `points` itself nor `pointsx.y`;
/// - `*`, which matches every type.
///
/// Names are dot-separated segments of ASCII letters, digits, `_` and `-`. A `*` anywhere but as
/// the whole last segment (`*.earned`, `po*nts`, `points*`) is rejected rather than guessed at,
/// so a typo in a filter is a config error instead of a silently empty pipeline.
public struct EventPattern: Sendable, Hashable, CustomStringConvertible {
    /// Which of the three forms a pattern is.
    public enum Kind: Sendable, Hashable {
        /// `*`: every event type.
        case any
        /// `group.*`: the associated value is the text before `.*`, e.g. `points`.
        case prefix(String)
        /// An exact wire name.
        case exact(String)
    }

    /// The parsed form.
    public let kind: Kind

    /// For `.prefix("points")` this is `points.`; for `.exact` it is the name. Precomputed so
    /// ``matches(_:)`` is a plain byte comparison with no allocation.
    @usableFromInline let needle: String

    /// Parses a pattern; `nil` when `text` is malformed (see ``malformedReason(_:)`` for why).
    public init?(_ text: String) {
        guard Self.malformedReason(text) == nil else { return nil }
        if text == "*" {
            kind = .any
            needle = ""
        } else if text.hasSuffix(".*") {
            kind = .prefix(String(text.dropLast(2)))
            needle = String(text.dropLast(1))
        } else {
            kind = .exact(text)
            needle = text
        }
    }

    /// Whether `eventType` is selected by this pattern. Called for every event and every pipeline,
    /// so it compares UTF-8 bytes in place.
    @inlinable
    public func matches(_ eventType: String) -> Bool {
        switch kind {
        case .any:
            return true
        case .exact:
            return eventType == needle
        case .prefix:
            return eventType.utf8.count > needle.utf8.count && eventType.utf8.starts(with: needle.utf8)
        }
    }

    /// Whether at least one type in ``EventCatalogue`` matches; a pattern that matches none is
    /// almost certainly a typo (`point.earned`, `redemptions.*`).
    public var matchesAnyCataloguedType: Bool {
        EventCatalogue.names.contains { matches($0) }
    }

    /// The pattern as written: `points.earned`, `points.*` or `*`.
    public var description: String {
        switch kind {
        case .any: "*"
        case .prefix(let group): group + ".*"
        case .exact(let name): name
        }
    }

    /// Why `text` is not a valid pattern, as a phrase to put after the pattern in an error
    /// message, or `nil` when it is valid.
    public static func malformedReason(_ text: String) -> String? {
        if text.isEmpty { return "an event pattern cannot be empty" }
        if text == "*" { return nil }
        var body = Substring(text)
        if body.hasSuffix(".*") { body = body.dropLast(2) }
        // Byte search, not Foundation's substring search, which costs more than the whole check.
        if body.utf8.contains(UInt8(ascii: "*")) {
            return "'*' may only stand alone or as the whole last segment, as in 'points.*'"
        }
        for segment in body.split(separator: ".", omittingEmptySubsequences: false) {
            if segment.isEmpty {
                return "empty segment; names look like 'points.earned'"
            }
            if let bad = segment.unicodeScalars.first(where: { !isNameScalar($0) }) {
                return "unexpected character '\(bad.escaped(asASCII: false))'; names use letters, digits, '_' and '-'"
            }
        }
        return nil
    }

    private static func isNameScalar(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-": true
        default: false
        }
    }
}
