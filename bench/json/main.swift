// JSON codec throughput check, run by hand (not a test). From the package root:
//
//     swiftc -O -wmo Sources/LoyaliHooks/JSON/{JSONValue,JSONParseError,JSONParser,JSONWord}.swift \
//         Sources/LoyaliHooks/JSON/{JSONByteWriter,JSONValue+Serialization}.swift \
//         bench/json/main.swift -o /tmp/json-bench && /tmp/json-bench
//
// The codec files depend on nothing else in the library, so they compile straight into this
// executable with whole-module optimisation, as in a release build. It parses and re-serializes
// 100k lines of a ~300-byte loyalty event (shaped like the guide's points.earned payload, with
// an exact big number, a trailing-zero decimal, an escaped quote and an emoji) and prints events
// per second for each phase, best of five rounds.

let event = #"{"id":"evt_01HQ3K9Z7X8Y2W4V","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{"customer_id":"cust_abc123","customer_email":"alex@example.com","amount":150,"new_balance":1000000000000,"reason":"Purchase - Order #12345","order":{"id":"ord_5521","total":12.50},"note":"\"Gold\" is next 🎉"}}"#
let lineCount = 100_000
let eventBytes = Array(event.utf8)

// One JSONL buffer, like a real input file.
var input: [UInt8] = []
input.reserveCapacity((eventBytes.count + 1) * lineCount)
for _ in 0..<lineCount {
    input.append(contentsOf: eventBytes)
    input.append(0x0A)
}

func rate(_ duration: Duration) -> String {
    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    let perSecond = Double(lineCount) / seconds
    let nanos = seconds / Double(lineCount) * 1e9
    return "\(Int(perSecond)) events/s (\(Int(nanos)) ns/event)"
}

let clock = ContinuousClock()
var best = (parse: Duration.seconds(1000), serialize: Duration.seconds(1000), both: Duration.seconds(1000))
var checksum = 0
for _ in 0..<5 {
    var values: [JSONValue] = []
    values.reserveCapacity(lineCount)
    let parse = try clock.measure {
        try input.withUnsafeBufferPointer { all in
            var start = 0
            for i in 0..<all.count where all[i] == 0x0A {
                values.append(try JSONParser.parse(UnsafeBufferPointer(rebasing: all[start..<i])))
                start = i + 1
            }
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(input.count)
    let serialize = clock.measure {
        for value in values {
            value.serialize(into: &out)
            out.append(0x0A)
        }
    }
    precondition(out == input, "round trip changed the bytes")
    out.removeAll(keepingCapacity: true)
    let both = try clock.measure {
        try input.withUnsafeBufferPointer { all in
            var start = 0
            for i in 0..<all.count where all[i] == 0x0A {
                try JSONParser.parse(UnsafeBufferPointer(rebasing: all[start..<i])).serialize(into: &out)
                out.append(0x0A)
                start = i + 1
            }
        }
    }
    checksum &+= out.count
    best = (min(best.parse, parse), min(best.serialize, serialize), min(best.both, both))
}
print("event: \(eventBytes.count) bytes, \(lineCount) lines, best of 5")
print("parse:             \(rate(best.parse))")
print("serialize:         \(rate(best.serialize))")
print("parse + serialize: \(rate(best.both))")
print("(checksum \(checksum))")
