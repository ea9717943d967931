import FuzzSupport
import LoyaliHooks

// JSONParser on arbitrary bytes: never a crash, and any accepted text round-trips —
// parse → serialize → parse gives an equal value, the compact form is a fixed point, and the
// pretty form parses back to the same value. No object holds a key twice (I-JSON).
runFuzzer { data, size in
    guard let value = try? JSONParser.parse(fuzzBytes(data, size)) else { return 0 }
    requireUniqueKeys(value)
    let compact = value.serializedBytes
    let reparsed: JSONValue
    do {
        reparsed = try JSONParser.parse(compact)
    } catch {
        fail("the compact form does not parse (\(error)): \(String(decoding: compact, as: UTF8.self))")
    }
    require(reparsed == value, "parse → serialize → parse changed the value: \(String(decoding: compact, as: UTF8.self))")
    require(reparsed.serializedBytes == compact, "serializing is not a fixed point")
    let pretty = value.prettyPrinted()
    do {
        let fromPretty = try JSONParser.parse(pretty)
        require(fromPretty == value, "the pretty form parses to another value: \(pretty)")
    } catch {
        fail("the pretty form does not parse (\(error)): \(pretty)")
    }
    return 0
}

/// Fails if any object in `value`, at any depth, repeats a key.
func requireUniqueKeys(_ value: JSONValue) {
    switch value {
    case .object(let object):
        require(Set(object.keys).count == object.count, "an object with a repeated key was accepted: \(object.keys)")
        for member in object.members { requireUniqueKeys(member.value) }
    case .array(let elements):
        for element in elements { requireUniqueKeys(element) }
    default:
        break
    }
}
