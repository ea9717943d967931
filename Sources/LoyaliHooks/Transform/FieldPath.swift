/// A dotted path into an event envelope's `data`, such as `data.reward.title` or `data.items.0`.
///
/// Paths are written from the envelope root so pipeline files read like the delivered JSON, but
/// only `data` can be addressed: the envelope's `id`, `event_type` and `created_at` are what
/// receivers dedupe and route on, so no transform may change them.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    /// The segments below `data` (never empty).
    public let segments: [String]

    /// Why a path string was refused.
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        case protectedField(String)
        case outsideData(String)
        case emptySegment(String)

        public var description: String {
            switch self {
            case .empty: "path is empty"
            case .protectedField(let field):
                "'\(field)' is part of the envelope and cannot be changed; only paths under 'data.' can"
            case .outsideData(let path): "path '\(path)' must start with 'data.'"
            case .emptySegment(let path): "path '\(path)' has an empty segment"
            }
        }
    }

    /// Parses `data.a.b`. The bare `data` (the whole payload) is refused too: replacing it is not a
    /// field edit.
    public static func parse(_ text: String) -> Result<FieldPath, ParseError> {
        guard !text.isEmpty else { return .failure(.empty) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if ["id", "event_type", "created_at"].contains(parts[0]) { return .failure(.protectedField(parts[0])) }
        guard parts[0] == "data", parts.count > 1 else { return .failure(.outsideData(text)) }
        guard !parts.contains(where: \.isEmpty) else { return .failure(.emptySegment(text)) }
        return .success(FieldPath(segments: Array(parts.dropFirst())))
    }

    public var description: String { "data." + segments.joined(separator: ".") }
}

extension JSONValue {
    /// The value at `path` below this value, if present. Numeric segments index arrays.
    public func value(at segments: some Collection<String>) -> JSONValue? {
        guard let first = segments.first else { return self }
        switch self {
        case .object(let object):
            return object[first]?.value(at: segments.dropFirst())
        case .array(let items):
            guard let index = Int(first), items.indices.contains(index) else { return nil }
            return items[index].value(at: segments.dropFirst())
        default:
            return nil
        }
    }

    /// Sets the value at `path`, creating intermediate objects. Returns `false` when a
    /// non-container value (or a missing array index) is in the way.
    @discardableResult
    public mutating func setValue(_ newValue: JSONValue, at segments: ArraySlice<String>) -> Bool {
        guard let first = segments.first else {
            self = newValue
            return true
        }
        let rest = segments.dropFirst()
        switch self {
        case .object(var object):
            // Move the payload out first so the nested mutation does not copy the object.
            self = .null
            defer { self = .object(object) }
            if let i = object.index(of: first) {
                return object.members[i].value.setValue(newValue, at: rest)
            }
            var child: JSONValue = rest.isEmpty ? .null : .object(JSONObject())
            guard child.setValue(newValue, at: rest) else { return false }
            object.members.append(JSONObject.Member(key: first, value: child))
            return true
        case .array(var items):
            guard let index = Int(first), items.indices.contains(index) else { return false }
            self = .null
            let ok = items[index].setValue(newValue, at: rest)
            self = .array(items)
            return ok
        default:
            return false
        }
    }

    /// Removes the value at `path` and returns it.
    @discardableResult
    public mutating func removeValue(at segments: ArraySlice<String>) -> JSONValue? {
        guard let first = segments.first else { return nil }
        let rest = segments.dropFirst()
        switch self {
        case .object(var object):
            self = .null
            defer { self = .object(object) }
            if rest.isEmpty { return object.removeValue(forKey: first) }
            guard let i = object.index(of: first) else { return nil }
            return object.members[i].value.removeValue(at: rest)
        case .array(var items):
            guard let index = Int(first), items.indices.contains(index) else { return nil }
            self = .null
            defer { self = .array(items) }
            if rest.isEmpty { return items.remove(at: index) }
            return items[index].removeValue(at: rest)
        default:
            return nil
        }
    }

    /// Replaces the value at `path` with `transform(old)` when it exists; returns whether it did.
    @discardableResult
    public mutating func updateValue(at segments: ArraySlice<String>, _ transform: (JSONValue) -> JSONValue) -> Bool {
        guard let first = segments.first else {
            self = transform(self)
            return true
        }
        let rest = segments.dropFirst()
        switch self {
        case .object(var object):
            guard let i = object.index(of: first) else { return false }
            self = .null
            defer { self = .object(object) }
            return object.members[i].value.updateValue(at: rest, transform)
        case .array(var items):
            guard let index = Int(first), items.indices.contains(index) else { return false }
            self = .null
            defer { self = .array(items) }
            return items[index].updateValue(at: rest, transform)
        default:
            return false
        }
    }
}
