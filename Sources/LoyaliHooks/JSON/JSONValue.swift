/// An exact, ordered JSON value.
///
/// Objects keep their keys in input order and numbers keep the literal text they were written
/// with, so `1000000000000` or `12.50` survive a parse/serialize round trip byte for byte. That is
/// what lets a delivered body be signed and re-verified without surprises.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// A JSON number kept as the exact literal it was written as (already validated as JSON grammar).
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The literal text, e.g. `150`, `-0.5`, `1e12`.
    public var literal: String

    /// Wraps a literal that the caller guarantees is valid JSON number grammar.
    public init(literal: String) { self.literal = literal }

    /// An integer number.
    public init(_ value: Int64) { self.literal = String(value) }

    /// The value as a 64-bit integer, when the literal is an integer that fits.
    public var int64Value: Int64? { Int64(literal) }

    /// The value as a `Double` (may round).
    public var doubleValue: Double? { Double(literal) }

    public var description: String { literal }
}

/// A JSON object whose members keep insertion order. Lookups are linear, which beats hashing for
/// the handful of keys a loyalty event carries.
public struct JSONObject: Sendable, Equatable {
    /// One key/value member.
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// Members in order.
    public var members: [Member]

    /// Creates an object from members in order.
    public init(_ members: [Member] = []) { self.members = members }

    /// Creates an object from `(key, value)` pairs in order.
    public init(_ pairs: KeyValuePairs<String, JSONValue>) {
        self.members = pairs.map { Member(key: $0.key, value: $0.value) }
    }

    /// Number of members.
    public var count: Int { members.count }

    /// Keys in order.
    public var keys: [String] { members.map(\.key) }

    /// The index of `key`, if present (the last occurrence wins, as in most parsers).
    public func index(of key: String) -> Int? {
        members.lastIndex { $0.key == key }
    }

    /// Reads, replaces (in place, keeping position), appends (when new) or removes (`nil`) a member.
    public subscript(key: String) -> JSONValue? {
        get { index(of: key).map { members[$0].value } }
        set {
            if let i = index(of: key) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }

    /// Removes `key` and returns its value.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let i = index(of: key) else { return nil }
        return members.remove(at: i).value
    }
}

extension JSONValue {
    /// The object payload, if this is an object.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The string payload, if this is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The array payload, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// A short name of the value's kind for error messages ("object", "string", …).
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
