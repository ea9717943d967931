import Foundation
import Synchronization
import Testing

@testable import LoyaliHooks

// MARK: - Helpers

/// `Tests/Fixtures/<name>`, found from this file's path.
private func fixtureURL(_ name: String, filePath: String = #filePath) -> URL {
    URL(fileURLWithPath: filePath)
        .deletingLastPathComponent()  // LoyaliHooksTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures")
        .appendingPathComponent(name)
}

private let ingestTime = "2023-11-14T22:13:20Z"
private let decoder = InputEventDecoder(ingestTime: ingestTime)

private func decode(_ line: String, number: Int = 1) throws(InputRejection) -> EventEnvelope {
    var line = line
    let result = line.withUTF8 { buffer in
        Result { () throws(InputRejection) -> EventEnvelope in try decoder.decode(buffer, number: number) }
    }
    return try result.get()
}

private func decodeBytes(_ line: [UInt8], number: Int = 1) throws(InputRejection) -> EventEnvelope {
    let result = line.withUnsafeBufferPointer { buffer in
        Result { () throws(InputRejection) -> EventEnvelope in try decoder.decode(buffer, number: number) }
    }
    return try result.get()
}

private func rejection(_ line: String, number: Int = 1) -> InputRejection? {
    do {
        _ = try decode(line, number: number)
        return nil
    } catch {
        return error
    }
}

private func derivedID(_ line: String) -> String {
    Array(line.utf8).withUnsafeBufferPointer { InputEventDecoder.derivedEventID($0) }
}

/// What loyali-hooks reports for each bad line of `events-malformed.jsonl`, in order; the dry-run
/// through the CLI reports the same lines.
let malformedFixtureRejections = [
    "input:2: invalid JSON: expected a string key after ',' at column 85",
    "input:4: invalid JSON: unterminated string at column 104",
    "input:5: missing required field 'event_type'",
    "input:7: 'event_type' must be a string, not number",
    "input:9: 'data' must be an object, not array",
    "input:10: missing required field 'data'",
    "input:11: an event must be a JSON object, not array",
    "input:12: unknown event type 'point.earned'; did you mean 'points.earned'?",
    "input:13: 'created_at' is not an RFC 3339 timestamp: '20/01/2024 14:30'",
    "input:14: 'created_at' is not an RFC 3339 timestamp: '2024-01-20T14:30:00'",
]

/// The fixture's lines without their newlines; the file ends with one, which starts no line.
private func fixtureLines() throws -> [[UInt8]] {
    let data = try Data(contentsOf: fixtureURL("events-malformed.jsonl"))
    #expect(data.last == 0x0A, "the fixture ends with a newline")
    var lines = Array(data).split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
    if lines.last == [] { lines.removeLast() }
    return lines
}

private func isLowercaseHex(_ text: Substring) -> Bool {
    text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
}

// MARK: - The malformed-events fixture, line by line

@Suite struct MalformedFixtureTests {
    /// Expected outcome per 1-based line: `nil` = accepted, `""` = blank (skipped), else the reason.
    static let expected: [Int: (reason: String, column: Int?)?] = [
        1: nil,
        2: ("invalid JSON: expected a string key after ','", 85),
        3: nil,
        4: ("invalid JSON: unterminated string", 104),
        5: ("missing required field 'event_type'", nil),
        7: ("'event_type' must be a string, not number", nil),
        8: nil,
        9: ("'data' must be an object, not array", nil),
        10: ("missing required field 'data'", nil),
        11: ("an event must be a JSON object, not array", nil),
        12: ("unknown event type 'point.earned'; did you mean 'points.earned'?", nil),
        13: ("'created_at' is not an RFC 3339 timestamp: '20/01/2024 14:30'", nil),
        14: ("'created_at' is not an RFC 3339 timestamp: '2024-01-20T14:30:00'", nil),
        15: nil,
    ]

    @Test func fixtureHasFifteenLines() throws {
        let lines = try fixtureLines()
        #expect(lines.count == 15)
        #expect(lines[5].isEmpty)
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    func eachLine(number: Int) throws {
        let line = try fixtureLines()[number - 1]
        let expectation = try #require(Self.expected[number])
        do {
            _ = try decodeBytes(line, number: number)
            #expect(expectation == nil, "line \(number) should be rejected with: \(expectation?.reason ?? "")")
        } catch {
            let expected = try #require(expectation, "line \(number) should be accepted, got: \(error)")
            #expect(error.line == number)
            #expect(error.reason == expected.reason)
            #expect(error.column == expected.column)
        }
    }

    @Test func acceptedLinesDecodeToTheirFields() throws {
        let lines = try fixtureLines()
        let first = try decodeBytes(lines[0], number: 1)
        #expect(first.eventID == "evt_fx0001")
        #expect(first.eventType == "points.earned")
        #expect(first.createdAt == "2024-01-20T14:30:00Z")
        #expect(first.data.serializedString
            == #"{"customer_id":"cust_abc123","amount":150,"new_balance":2350,"reason":"Purchase - Order #12345"}"#)

        let third = try decodeBytes(lines[2], number: 3)
        #expect(third.eventID == "evt_507b3af1d20b4b7d9f6c34d86788b1f5")
        #expect(third.eventType == "customer.created")
        #expect(third.createdAt == ingestTime)
        #expect(third.data.objectValue?["name"] == .string("Zoë Müller"))

        let eighth = try decodeBytes(lines[7], number: 8)
        #expect(eighth.eventID == "evt_a506b996715b4125d3180397f0aaeb94")
        #expect(eighth.createdAt == ingestTime)

        let last = try decodeBytes(lines[14], number: 15)
        #expect(last.eventID == "evt_fx0015")
        #expect(last.eventType == "achievement.earned")
        #expect(last.createdAt == "2024-01-20T14:30:01+09:00")
    }

    @Test func blankLineIsSkippedAndTheRunCountsTheRest() throws {
        let data = Array(try Data(contentsOf: fixtureURL("events-malformed.jsonl")))
        var batch = LineBatch(capacity: 32)
        try LineReader(.bytes(data, name: "fixture")).forEachLine { line in
            batch.append(line)
            return true
        }
        #expect(batch.count == 15)
        let worker = BatchWorker(
            planners: [], decoder: decoder, printer: nil, timestamp: 1_700_000_000, sourceName: "fixture", showSource: false)
        let result = worker.process(batch)
        #expect(result.summary.eventsRead == 14)
        #expect(result.summary.rejected == 10)
        #expect(result.summary.hasFailures)
        #expect(result.logs == malformedFixtureRejections)
        // Each kept reject carries the raw line, byte for byte, and its reason.
        #expect(result.rejects.count == 10)
        let lines = try fixtureLines()
        let kept = try JSONParser.parse(try #require(result.rejects.first))
        #expect(kept.objectValue?.keys == ["source", "line", "reason", "raw"])
        #expect(kept.objectValue?["line"] == .number(JSONNumber(2)))
        #expect(kept.objectValue?["raw"]?.stringValue.map { Array($0.utf8) } == lines[1])
        #expect(kept.objectValue?["reason"] == .string("invalid JSON: expected a string key after ',' at column 85"))
    }
}

// MARK: - Byte-order marks

@Suite struct ByteOrderMarkTests {
    static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    static let first = Array(#"{"id":"evt_1","event_type":"points.earned","data":{"amount":1}}"#.utf8)
    static let second = Array(#"{"id":"evt_2","event_type":"points.earned","data":{"amount":2}}"#.utf8)

    static func lines(_ bytes: [UInt8], startOffset: Int64 = 0) throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        try LineReader(.bytes(bytes, name: "t"), startOffset: startOffset).forEachLine { line in
            lines.append(Array(line.bytes))
            return true
        }
        return lines
    }

    @Test func aMarkAtTheVeryStartOfAnEventsStreamIsSkipped() throws {
        let read = try Self.lines(Self.bom + Self.first + [0x0A] + Self.second + [0x0A])
        #expect(read == [Self.first, Self.second])
        #expect(try decodeBytes(read[0]).eventID == "evt_1")
        // Also when the first line is the whole input, with CRLF, or from a descriptor (stdin).
        #expect(try Self.lines(Self.bom + Self.first) == [Self.first])
        #expect(try Self.lines(Self.bom + Self.first + [0x0D, 0x0A]) == [Self.first])
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let input = Self.bom + Self.first + [0x0A]
        #expect(input.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) } == input.count)
        close(fds[1])
        var piped: [[UInt8]] = []
        try LineReader(.descriptor(fds[0], name: "stdin", closeWhenDone: true)).forEachLine { line in
            piped.append(Array(line.bytes))
            return true
        }
        #expect(piped == [Self.first])
    }

    @Test func aMarkAnywhereElseIsData() throws {
        // Mid-stream it is not an encoding marker: the line is kept as it is (and rejected).
        let read = try Self.lines(Self.first + [0x0A] + Self.bom + Self.second)
        #expect(read == [Self.first, Self.bom + Self.second])
        // Resuming a file past its start does not strip anything either.
        #expect(try Self.lines(Self.bom + Self.second, startOffset: 100) == [Self.bom + Self.second])
    }

    @Test func aMarkOpeningAnIngestBodyIsSkipped() throws {
        for (format, body) in [(IngestPlan.Format.single, Self.bom + Self.first), (.lines, Self.bom + Self.first + [0x0A] + Self.second)] {
            let plan = IngestPlan(body: body, format: format, decoder: decoder, planners: [], createdAtMs: 0)
            #expect(plan.rejections.isEmpty, "\(format): \(plan.rejections)")
            #expect(plan.events.first?.eventID == "evt_1")
        }
    }
}

// MARK: - Decoding rules

@Suite struct InputEventDecoderTests {
    @Test func derivedIDIsStableAndDependsOnTheExactLine() throws {
        let line = #"{"event_type":"points.earned","data":{"amount":1}}"#
        let a = try decode(line)
        let b = try decode(line, number: 99)
        #expect(a.eventID == b.eventID)
        #expect(a.eventID == derivedID(line))
        #expect(a.eventID.hasPrefix("evt_"))
        #expect(a.eventID.count == 4 + 32)
        #expect(isLowercaseHex(a.eventID.dropFirst(4)))
        let other = try decode(#"{"event_type":"points.earned","data":{"amount":2}}"#)
        #expect(other.eventID != a.eventID)
        let spaced = try decode(#"{"event_type":"points.earned", "data":{"amount":1}}"#)
        #expect(spaced.eventID != a.eventID)
        // A given id is used as is.
        #expect(try decode(#"{"id":"evt_given","event_type":"points.earned","data":{}}"#).eventID == "evt_given")
    }

    @Test func createdAtDefaultsToIngestTimeOnlyWhenAbsent() throws {
        #expect(try decode(#"{"event_type":"tier.upgraded","data":{}}"#).createdAt == ingestTime)
        #expect(try decode(#"{"event_type":"tier.upgraded","created_at":"2024-01-20T14:30:00.318Z","data":{}}"#).createdAt
            == "2024-01-20T14:30:00.318Z")
        #expect(rejection(#"{"event_type":"tier.upgraded","created_at":null,"data":{}}"#)?.reason
            == "'created_at' must be an RFC 3339 string, not null")
        #expect(rejection(#"{"event_type":"tier.upgraded","created_at":1705761000,"data":{}}"#)?.reason
            == "'created_at' must be an RFC 3339 string, not number")
    }

    @Test func fieldOrderAndExtraFieldsDoNotMatter() throws {
        let event = try decode(#"{"data":{"b":1,"a":2},"extra":[1],"created_at":"2024-01-20T14:30:00Z","event_type":"points.earned","id":"evt_x"}"#)
        #expect(event.eventID == "evt_x")
        #expect(event.data.serializedString == #"{"b":1,"a":2}"#)
    }

    @Test func otherRejections() {
        #expect(rejection(#"{"id":5,"event_type":"points.earned","data":{}}"#)?.reason == "'id' must be a string, not number")
        #expect(rejection(#"{"event_type":"points.earned","data":null}"#)?.reason == "'data' must be an object, not null")
        #expect(rejection(#"{"event_type":"points.earned","data":"{}"}"#)?.reason == "'data' must be an object, not string")
        #expect(rejection(#""points.earned""#)?.reason == "an event must be a JSON object, not string")
        #expect(rejection(#"{"event_type":"Points.Earned","data":{}}"#)?.reason
            == "unknown event type 'Points.Earned'; did you mean 'points.earned'?")
        #expect(rejection(#"{"event_type":"something.else","data":{}}"#)?.reason == "unknown event type 'something.else'")
        #expect(rejection(#"{"event_type":"points.earned","data":{}} trailing"#)?.reason.hasPrefix("invalid JSON") == true)
        #expect(rejection("", number: 7) == InputRejection(line: 7, column: 1, reason: "invalid JSON: unexpected end of input; expected a value"))
        let lone = rejection(#"{"event_type":"points.earned","data":{"s":"\ud800"}}"#)
        #expect(lone?.reason.hasPrefix("invalid JSON") == true)
    }

    @Test("an event repeating a key at any depth is refused with the key, its path and column")
    func duplicateKeysAreRefused() {
        let top = rejection(#"{"event_type":"points.earned","data":{},"event_type":"tier.upgraded"}"#, number: 3)
        #expect(top?.line == 3)
        #expect(top?.reason.hasPrefix(#"duplicate key "event_type" at event_type;"#) == true, "\(String(describing: top))")
        let nested = rejection(#"{"event_type":"points.earned","data":{"customer_email":"a@x","customer_email":"b@x"}}"#)
        #expect(nested?.reason.hasPrefix(#"duplicate key "customer_email" at data.customer_email;"#) == true)
        #expect(nested?.column == 62)
        let deep = rejection(#"{"event_type":"points.earned","data":{"items":[{"p":{"email":"a","email":"b"}}]}}"#)
        #expect(deep?.reason.contains("data.items.0.p.email") == true)
        #expect(deep?.message(source: nil).hasPrefix("input:1: duplicate key") == true)
    }

    @Test
    func emptyIDReasonSaysItIsEmpty() {
        let reason = rejection(#"{"id":"","event_type":"points.earned","data":{}}"#)?.reason
        #expect(reason != nil)
        #expect(reason?.hasSuffix("not string") == false)
        #expect(reason?.contains("empty") == true)
    }

    @Test func rejectionDescription() {
        #expect(InputRejection(line: 4, column: 9, reason: "r").description == "4:9: r")
        #expect(InputRejection(line: 4, reason: "r").description == "4: r")
    }
}

// MARK: - RFC 3339

@Suite struct RFC3339Tests {
    @Test(arguments: [
        "2024-01-20T14:30:00Z",
        "2024-01-20t14:30:00z",
        "2024-01-20T15:30:00.250+01:00",
        "2024-01-20T14:30:00.1Z",
        "2024-01-20T14:30:01+09:00",
        "2024-01-20T09:00:00-05:30",
        "2024-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z",
        "2016-12-31T23:59:60Z",
        "0001-01-01T00:00:00+00:00",
        "2024-01-20T23:59:59-23:59",
    ])
    func valid(text: String) {
        #expect(RFC3339.isValid(text))
    }

    @Test(arguments: [
        "",
        "2024-01-20T14:30:00",
        "20/01/2024 14:30",
        "2024-01-20",
        "2024-01-20T14:30Z",
        "2024-1-20T14:30:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-00-10T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-20T24:00:00Z",
        "2024-01-20T14:60:00Z",
        "2024-01-20T14:30:61Z",
        "2024-01-20T14:30:00.Z",
        "2024-01-20T14:30:00+0100",
        "2024-01-20T14:30:00+01",
        "2024-01-20T14:30:00+24:00",
        "2024-01-20T14:30:00+01:60",
        "2024-01-20T14:30:00ZZ",
        "2024-01-20T14:30:00Z ",
        " 2024-01-20T14:30:00Z",
        "2024-01-20X14:30:00Z",
        "2024-01-20T14:30:00+01:00x",
        "２０２４-01-20T14:30:00Z",
    ])
    func invalid(text: String) {
        #expect(!RFC3339.isValid(text))
    }

    @Test func formatsUnixSeconds() {
        #expect(RFC3339.format(unixSeconds: 1_700_000_000) == "2023-11-14T22:13:20Z")
        #expect(RFC3339.format(unixSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(unixSeconds: 951_782_400) == "2000-02-29T00:00:00Z")
        #expect(RFC3339.format(unixSeconds: -1) == "1969-12-31T23:59:59Z")
        #expect(RFC3339.format(unixSeconds: 4_102_444_799) == "2099-12-31T23:59:59Z")
        #expect(RFC3339.isValid(RFC3339.format(unixSeconds: 1_614_265_330)))
    }
}

// MARK: - Delivery ids

@Suite struct DeliveryIDTests {
    @Test func deterministicAndWellFormed() {
        let id = DeliveryID.make(eventID: "evt_1", pipeline: "notifications", sink: "push")
        #expect(id == "whd_d83c501ad2f8ca602c874be0a9384205")
        #expect(id == DeliveryID.make(eventID: "evt_1", pipeline: "notifications", sink: "push"))
        #expect(id.hasPrefix("whd_"))
        #expect(id.count == 36)
        #expect(isLowercaseHex(id.dropFirst(4)))
        // The same value the bundled dry-run prints for the first sample event.
        #expect(DeliveryID.make(eventID: "evt_01hmq7c2a9k4", pipeline: "analytics", sink: "events-log")
            == "whd_3399ea5c12101c5af09822cd02fce6e4")
    }

    @Test func eachPartChangesTheID() {
        let base = DeliveryID.make(eventID: "evt_1", pipeline: "p", sink: "s")
        let variants = [
            DeliveryID.make(eventID: "evt_2", pipeline: "p", sink: "s"),
            DeliveryID.make(eventID: "evt_1", pipeline: "q", sink: "s"),
            DeliveryID.make(eventID: "evt_1", pipeline: "p", sink: "t"),
            DeliveryID.make(eventID: "evt_1", pipeline: "s", sink: "p"),
        ]
        #expect(Set(variants + [base]).count == 5)
        // The separator keeps the split unambiguous.
        #expect(DeliveryID.make(eventID: "e", pipeline: "a", sink: "bc") != DeliveryID.make(eventID: "e", pipeline: "ab", sink: "c"))
        #expect(DeliveryID.make(eventID: "e.a", pipeline: "b", sink: "c") != DeliveryID.make(eventID: "e", pipeline: "a.b", sink: "c"))
    }
}

// MARK: - Envelope encoding

@Suite struct EnvelopeEncoderTests {
    @Test func keyOrderIsIdTypeCreatedAtData() throws {
        let event = try decode(
            #"{"data":{"z":1,"a":{"y":2,"b":3}},"created_at":"2024-01-20T14:30:00Z","event_type":"tier.upgraded","id":"evt_9"}"#)
        let body = String(decoding: EnvelopeEncoder(event).body(deliveryID: "whd_00112233445566778899aabbccddeeff"), as: UTF8.self)
        #expect(body
            == #"{"id":"whd_00112233445566778899aabbccddeeff","event_type":"tier.upgraded","created_at":"2024-01-20T14:30:00Z","data":{"z":1,"a":{"y":2,"b":3}}}"#)
        let parsed = try JSONParser.parse(body)
        #expect(parsed.objectValue?.keys == ["id", "event_type", "created_at", "data"])
    }

    @Test func oneEncoderServesEverySink() throws {
        let event = try decode(#"{"event_type":"points.earned","data":{"amount":1}}"#)
        let encoder = EnvelopeEncoder(event)
        let a = String(decoding: encoder.body(deliveryID: "whd_a"), as: UTF8.self)
        let b = String(decoding: encoder.body(deliveryID: "whd_b"), as: UTF8.self)
        #expect(a.replacingOccurrences(of: "whd_a", with: "whd_b") == b)
        #expect(a.hasPrefix(#"{"id":"whd_a","event_type":"points.earned","created_at":"2023-11-14T22:13:20Z","#))
    }

    @Test func numbersUnicodeAndEscapesSurviveByteExact() throws {
        let data = #"{"amount":1000000000000,"new_balance":999999999999999,"max":9223372036854775807,"min":-9223372036854775808,"#
            + #""dec":12.50,"exp":1E400,"neg":-0.0,"name":"Zoë Müller 渡辺 さくら","emoji":"🎉👩‍💻⭐","#
            + #""quote":"say \"hi\"","backslash":"a\\b","ctl":"line1\nline2\ttab\u0001\u001f","slash":"a/b","#
            + #""seps":"\u2028 and \u2029 stay raw: "#
            + "\u{2028}\u{2029}"
            + #"","nested":[{"k":[true,false,null]}],"empty":{},"none":[]}"#
        // U+2028/2029 written as escapes in the input come out raw, like Python's ensure_ascii=False.
        let line = #"{"id":"evt_u","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":"# + data + "}"
        let event = try decode(line)
        let body = EnvelopeEncoder(event).body(deliveryID: "whd_x")
        let expectedData = data.replacingOccurrences(of: #"\u2028 and \u2029"#, with: "\u{2028} and \u{2029}")
        let expected = #"{"id":"whd_x","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":"# + expectedData + "}"
        #expect(body == Array(expected.utf8))
        #expect(String(decoding: body, as: UTF8.self).contains("1000000000000,"))
    }

    @Test func surrogatePairEscapesBecomeUTF8() throws {
        let event = try decode(#"{"event_type":"points.earned","data":{"s":"\ud83c\udf89 \u00e9"}}"#)
        let body = String(decoding: EnvelopeEncoder(event).body(deliveryID: "whd_x"), as: UTF8.self)
        #expect(body.hasSuffix(#""data":{"s":"🎉 é"}}"#))
    }

    @Test func eventTypeAndCreatedAtAreEscapedWhenNeeded() {
        let event = EventEnvelope(eventID: "e", eventType: "a\"b", createdAt: "c\\d", data: .object(JSONObject()))
        #expect(String(decoding: EnvelopeEncoder(event).body(deliveryID: "whd_1"), as: UTF8.self)
            == #"{"id":"whd_1","event_type":"a\"b","created_at":"c\\d","data":{}}"#)
    }
}

// MARK: - Event data reaching logs and the terminal

@Suite struct ControlCharacterEscapingTests {
    /// Text an event could carry to forge a log line, recolour the terminal or ring its bell.
    static let hostile = "x\u{1B}[31m\u{07}\r\nlevel=error msg=forged\u{7F}\u{9B}2J\u{2028}\u{202E}"

    /// Whether `text` holds any control character (C0, DEL, C1) or line/bidi control.
    static func hasControls(_ text: String) -> Bool {
        text.unicodeScalars.contains { String.needsControlEscape($0) }
    }

    @Test("logfmt lines escape every control character, so event data cannot break or forge a line")
    func logfmt() {
        let lines = Mutex<[String]>([])
        let logger = Logger(format: .logfmt) { line in lines.withLock { $0.append(line) } }
        logger.log(.warn, Self.hostile, ["event_id": Self.hostile, "plain": "ok"])
        let line = lines.withLock { $0 }.joined()
        #expect(!Self.hasControls(line), "\(line.debugDescription)")
        #expect(line.hasPrefix(#"level=warn msg="x\u001b[31m\u0007\r\nlevel=error msg=forged\u007f\u009b2J\u2028\u202e" event_id="#))
        #expect(line.hasSuffix(" plain=ok"))
    }

    @Test("JSON log lines carry no raw control character either")
    func jsonLines() throws {
        let lines = Mutex<[String]>([])
        let logger = Logger(format: .json) { line in lines.withLock { $0.append(line) } }
        logger.log(.error, "m", ["reason": Self.hostile])
        let line = try #require(lines.withLock { $0 }.first)
        #expect(!Self.hasControls(line), "\(line.debugDescription)")
        #expect(try JSONParser.parse(line).objectValue?["level"] == .string("error"))
    }

    @Test("a refused line's message escapes what it quotes from the line")
    func rejectionMessage() throws {
        let line = #"{"event_type":"points\u001b[2J\n2024 level=error msg=forged","data":{}}"#
        let refused = try #require(rejection(line, number: 4))
        let message = refused.message(source: "events\u{07}.jsonl")
        #expect(!Self.hasControls(message), "\(message.debugDescription)")
        #expect(message.hasPrefix(#"input:4: unknown event type 'points\u001b[2J\n2024 level=error msg=forged'"#))
    }

    @Test("escaping leaves ordinary text, including non-ASCII, alone")
    func ordinaryText() {
        #expect("Zoë ⭐ — tab-free text".controlCharactersEscaped == "Zoë ⭐ — tab-free text")
        #expect("a\tb\u{0}".controlCharactersEscaped == #"a\tb\u0000"#)
        #expect("a\nb\u{85}".controlCharactersEscaped(keepingC0: true) == "a\nb\\u0085")
    }
}
