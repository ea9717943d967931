import FuzzSupport
import LoyaliHooks

// JSONParser on arbitrary bytes: never a crash, and any accepted text round-trips —
// parse → serialize → parse gives an equal value, the compact form is a fixed point, and the
// pretty form parses back to the same value.
runFuzzer { data, size in
    guard let value = try? JSONParser.parse(fuzzBytes(data, size)) else { return 0 }
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
