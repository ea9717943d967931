import Foundation
import Testing

@testable import LoyaliHooks

/// Where JSONTestSuite's `test_parsing` directory is: `$LOYALI_JSON_TEST_SUITE` when set,
/// otherwise `../shared/testdata/JSONTestSuite/test_parsing` next to the package root.
private enum JSONTestSuiteFiles {
    static let directory: URL? = {
        let fileManager = FileManager.default
        if let override = ProcessInfo.processInfo.environment["LOYALI_JSON_TEST_SUITE"],
            !override.isEmpty
        {
            let url = URL(fileURLWithPath: override)
            return fileManager.fileExists(atPath: url.path) ? url : nil
        }
        // #filePath is <root>/Tests/LoyaliHooksTests/JSONTests.swift.
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let url = root.appendingPathComponent("../shared/testdata/JSONTestSuite/test_parsing")
            .standardizedFileURL
        return fileManager.fileExists(atPath: url.path) ? url : nil
    }()

    static let names: [String] = {
        guard let directory,
            let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path)
        else { return [] }
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }()
}

/// Parses `text`, expecting failure, and returns the error.
private func parseError(
    _ text: String, maxDepth: Int = JSONParser.defaultMaxDepth,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> JSONParseError? {
    do {
        let value = try JSONParser.parse(text, maxDepth: maxDepth)
        Issue.record("accepted \(text.debugDescription) as \(value)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

private func parseError(bytes: [UInt8]) -> JSONParseError? {
    do {
        let value = try JSONParser.parse(bytes)
        Issue.record("accepted \(bytes) as \(value)")
        return nil
    } catch {
        return error
    }
}

@Suite("JSON")
struct JSONTests {
    // MARK: JSONTestSuite

    @Test(
        "JSONTestSuite: y_ accepted, n_ rejected, i_ do not crash",
        .enabled(
            if: JSONTestSuiteFiles.directory != nil,
            "JSONTestSuite not found at ../shared/testdata/JSONTestSuite/test_parsing; set LOYALI_JSON_TEST_SUITE to its test_parsing directory to run these checks"
        ),
        arguments: JSONTestSuiteFiles.names)
    func suiteFile(_ name: String) throws {
        let url = try #require(JSONTestSuiteFiles.directory).appendingPathComponent(name)
        let bytes = [UInt8](try Data(contentsOf: url))
        switch name.first {
        case "y" where name.hasPrefix("y_object_duplicated_key"):
            // RFC 8259 allows repeated keys; I-JSON (RFC 7493), which this parser follows, does not.
            #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
        case "y":
            do {
                let value = try JSONParser.parse(bytes)
                // What we write must read back as the same value, and write the same bytes again.
                let written = value.serializedBytes
                let reread = try JSONParser.parse(written)
                #expect(reread == value, "\(name): value changed after a serialize/parse round trip")
                #expect(reread.serializedBytes == written, "\(name): serialization is not stable")
            } catch {
                Issue.record("\(name) must be accepted but was rejected: \(error)")
            }
        case "n":
            do {
                let value = try JSONParser.parse(bytes)
                Issue.record("\(name) must be rejected but was accepted as \(value.serializedString)")
            } catch {
                #expect(
                    error.offset >= 0 && error.offset <= bytes.count,
                    "\(name): offset out of range: \(error)")
                #expect(error.line >= 1 && error.column >= 1, "\(name): bad position: \(error)")
                #expect(!error.reason.isEmpty, "\(name): empty reason")
            }
        default:
            // Implementation-defined: either outcome is fine, crashing is not.
            _ = try? JSONParser.parse(bytes)
        }
    }

    @Test(
        "JSONTestSuite directory holds the accept and reject cases",
        .enabled(
            if: JSONTestSuiteFiles.directory != nil,
            "JSONTestSuite not found; set LOYALI_JSON_TEST_SUITE to its test_parsing directory"))
    func suiteIsPresent() {
        // Guards the parameterized test above against passing on an empty or wrong directory.
        #expect(JSONTestSuiteFiles.names.filter { $0.hasPrefix("y_") }.count >= 90)
        #expect(JSONTestSuiteFiles.names.filter { $0.hasPrefix("n_") }.count >= 180)
    }

    // MARK: Round trips

    @Test("keys keep their order")
    func keyOrder() throws {
        let text = #"{"z":1,"a":{"y":true,"b":null},"m":[3,2,1],"q":"again"}"#
        let value = try JSONParser.parse(text)
        #expect(value.serializedString == text)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["z", "a", "m", "q"])
    }

    @Test(
        "a duplicate key at any depth is refused, naming the key and its path (I-JSON, RFC 7493)",
        arguments: [
            (#"{"a":1,"a":2}"#, "a", [String](), 8),
            (#"{"data":{"customer_email":"a@x","customer_email":"b@x"}}"#, "customer_email", ["data"], 33),
            (#"{"data":{"x":[{"k":{"deep":1,"e":2,"deep":3}}]}}"#, "deep", ["data", "x", "0", "k"], 36),
            (#"[0,{"b":1},{"b":1,"c":{"b":0},"b":2}]"#, "b", ["2"], 31),
            (#"[[7,8,{"a":1,"a":2}]]"#, "a", ["0", "2"], 14),
        ])
    func duplicateKeys(text: String, key: String, path: [String], column: Int) {
        #expect {
            _ = try JSONParser.parse(text)
        } throws: { error in
            guard let error = error as? JSONParseError, let duplicate = error.duplicateKey else { return false }
            return duplicate.key == key && duplicate.path == path && error.column == column
                && error.reason.contains((path + [key]).joined(separator: "."))
                && error.reason.contains("duplicate key \"\(key)\"")
        }
    }

    @Test("duplicate detection also covers large objects, where a set replaces the linear scan")
    func duplicateKeysInLargeObjects() throws {
        let keys = (0..<200).map { "k\($0)" }
        let unique = "{" + keys.map { "\"\($0)\":1" }.joined(separator: ",") + "}"
        #expect(try JSONParser.parse(unique).objectValue?.count == 200)
        for repeated in ["k0", "k15", "k16", "k199"] {
            let text = "{\"outer\":" + unique.dropLast() + ",\"\(repeated)\":2}}"
            do {
                _ = try JSONParser.parse(text)
                Issue.record("\(repeated) repeated in a large object was accepted")
            } catch {
                #expect(error.duplicateKey?.key == repeated)
                #expect(error.duplicateKey?.path == ["outer"])
            }
        }
        // The same key in sibling objects is no duplicate.
        #expect(throws: Never.self) { try JSONParser.parse(#"[{"a":1},{"a":2},{"x":{"a":3}}]"#) }
        // Escapes are decoded before keys are compared.
        #expect(throws: JSONParseError.self) { try JSONParser.parse(#"{"ab":1,"a\u0062":2}"#) }
    }

    @Test("numbers round-trip exactly as written")
    func exactNumbers() throws {
        let text = "[1000000000000,-0.0,-0,1.5e10,12.50,1E400,0.1e-7,9007199254740993,-1.0E+2]"
        let value = try JSONParser.parse(text)
        #expect(value.serializedString == text)
        let numbers = try #require(value.arrayValue)
        #expect(numbers[0] == .number(JSONNumber(literal: "1000000000000")))
        #expect(numbers[0] == .number(JSONNumber(1_000_000_000_000)))
        if case .number(let n) = numbers[7] {
            #expect(n.int64Value == 9_007_199_254_740_993)
        } else {
            Issue.record("expected a number, got \(numbers[7])")
        }
    }

    @Test("strings: escapes decode and re-encode like Python's json.dumps(ensure_ascii=False)")
    func stringEscapes() throws {
        let input = #"{"emoji":"🎉","text":"h\u00e9llo\n\t\"q\" \\ \/ \u0001\u001f\u007f\u2028\u2029\b\f\r","raw":"é/ü"}"#
        let value = try JSONParser.parse(input)
        let object = try #require(value.objectValue)
        #expect(object["text"] == .string("héllo\n\t\"q\" \\ / \u{1}\u{1f}\u{7f}\u{2028}\u{2029}\u{8}\u{c}\r"))
        #expect(
            value.serializedString
                == #"{"emoji":"🎉","text":"héllo\n\t\"q\" \\ / \u0001\u001f"# + "\u{7f}\u{2028}\u{2029}"
                + #"\b\f\r","raw":"é/ü"}"#)
    }

    @Test("a \\u surrogate pair becomes one scalar and is written back as raw UTF-8")
    func surrogatePair() throws {
        let value = try JSONParser.parse(#"["\ud83c\udf89","\uD834\uDD1E"]"#)
        #expect(value == .array([.string("🎉"), .string("𝄞")]))
        #expect(value.serializedString == #"["🎉","𝄞"]"#)
        #expect(JSONValue.string("🎉").serializedBytes == [0x22, 0xF0, 0x9F, 0x8E, 0x89, 0x22])
    }

    @Test("string escaping matches a byte-at-a-time reference for every length and position")
    func escapingMatchesReference() throws {
        // Mixes ASCII, escapes, controls and multi-byte characters at every offset, so the
        // word-at-a-time paths (full words, short tails, chunk ends) all meet special bytes.
        let alphabet: [String] = [
            "a", "Z", "\"", "\\", "/", "\n", "\u{1}", "\u{1f}", "\u{7f}", "é", "🎉", "\u{2028}", " ",
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var samples: [String] = (0..<400).map { n in
            (0..<(n % 41)).map { _ in alphabet[next() % alphabet.count] }.joined()
        }
        // Specials right at and around the 4096-byte chunk ends of the serializer.
        samples.append(
            String(repeating: "x", count: 9000) + "\"" + String(repeating: "y", count: 4095) + "\n")
        samples.append(String(repeating: "\u{0}", count: 5000))
        for sample in samples {
            let expected = referenceEscape(sample)
            #expect(JSONValue.string(sample).serializedBytes == expected, "\(sample.debugDescription)")
            var viaHelper: [UInt8] = [0x2A]
            JSONValue.appendJSONString(sample, to: &viaHelper)
            #expect(viaHelper == [0x2A] + expected, "\(sample.debugDescription)")
            #expect(try JSONParser.parse(expected) == .string(sample), "\(sample.debugDescription)")
        }
    }

    @Test("large documents: long arrays, wide objects, deep mixed nesting")
    func largeDocuments() throws {
        let numbers = "[" + (0..<5000).map(String.init).joined(separator: ",") + "]"
        let parsedNumbers = try JSONParser.parse(numbers)
        #expect(parsedNumbers.arrayValue?.count == 5000)
        #expect(parsedNumbers.serializedString == numbers)

        let wide =
            "{" + (0..<300).map { #""k\#($0)":[\#($0),{"n":"v\#($0)"}]"# }.joined(separator: ",") + "}"
        let parsedWide = try JSONParser.parse(wide)
        #expect(parsedWide.objectValue?.count == 300)
        #expect(parsedWide.serializedString == wide)

        // Parents half-filled while children overflow the parser's stacks.
        let nested = (0..<200).map { #"{"a\#($0)":[1,2,3,"# }.joined() + "null"
            + String(repeating: "]}", count: 200)
        #expect(try JSONParser.parse(nested).serializedString == nested)
    }

    @Test("appendJSONString quotes and escapes for hand-written JSON")
    func appendJSONString() {
        var out: [UInt8] = Array("x=".utf8)
        JSONValue.appendJSONString("a\"b\\c\u{0}\u{1b}/ok", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"x="a\"b\\c\u0000\u001b/ok""#)
        var empty: [UInt8] = []
        JSONValue.appendJSONString("", to: &empty)
        #expect(empty == [0x22, 0x22])
    }

    @Test("all three parse entry points agree")
    func entryPoints() throws {
        let text = #" {"a" : [ 1 , "two" , false ] } "#
        let fromString = try JSONParser.parse(text)
        let fromBytes = try JSONParser.parse(Array(text.utf8))
        let fromBuffer = try Array(text.utf8).withUnsafeBufferPointer { try JSONParser.parse($0) }
        #expect(fromString == fromBytes)
        #expect(fromString == fromBuffer)
        #expect(fromString.serializedString == #"{"a":[1,"two",false]}"#)
    }

    // MARK: Rejections

    @Test(
        "lone surrogates are rejected",
        arguments: [
            (#""\ud800""#, #"lone surrogate \ud800"#),
            (#""\udc00""#, #"lone surrogate \udc00"#),
            (#""\uD800x""#, #"lone surrogate \ud800"#),
            (#""\ud800\u0041""#, #"lone surrogate \ud800"#),
            (#""\ud800\ud800""#, #"lone surrogate \ud800"#),
            (#""\udf89\ud83c""#, #"lone surrogate \udf89"#),
        ])
    func loneSurrogate(text: String, reason: String) throws {
        let error = try #require(parseError(text))
        #expect(error.reason.hasPrefix(reason), "\(text): \(error)")
        #expect(error.offset == 1)
    }

    @Test(
        "invalid UTF-8 is rejected",
        arguments: [
            ([0x22, 0xC0, 0xAF, 0x22], "overlong"),
            ([0x22, 0xE0, 0x80, 0xAF, 0x22], "overlong"),
            ([0x22, 0xED, 0xA0, 0x80, 0x22], "surrogate"),
            ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "above U+10FFFF"),
            ([0x22, 0x80, 0x22], "continuation"),
            ([0x22, 0xE2, 0x82, 0x22], "truncated"),
            ([0x22, 0xFF, 0x22], "0xFF"),
        ] as [([UInt8], String)])
    func invalidUTF8(bytes: [UInt8], detail: String) throws {
        let error = try #require(parseError(bytes: bytes))
        #expect(error.reason.hasPrefix("invalid UTF-8"), "\(bytes): \(error)")
        #expect(error.reason.contains(detail), "\(bytes): \(error)")
        #expect(error.offset == 1)
    }

    @Test("nesting: 512 levels parse, 513 are rejected")
    func depthLimit() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }

        let tooDeep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        let error = try #require(parseError(tooDeep))
        #expect(error.reason == "nesting deeper than 512 levels")
        #expect(error.offset == 512)

        let objects =
            String(repeating: #"{"a":"#, count: 513) + "1" + String(repeating: "}", count: 513)
        #expect(parseError(objects)?.reason == "nesting deeper than 512 levels")

        #expect(throws: Never.self) { try JSONParser.parse("[[1]]", maxDepth: 2) }
        #expect(parseError(#"[{"a":[]}]"#, maxDepth: 2)?.reason == "nesting deeper than 2 levels")
    }

    @Test("errors report line and column of a multi-line input")
    func errorPosition() throws {
        let text = "{\n  \"a\": 1,\n  \"b\" 2\n}"
        let error = try #require(parseError(text))
        #expect(error.line == 3)
        #expect(error.column == 7)
        #expect(error.offset == 18)
        #expect(error.description == "line 3, column 7: expected ':' after object key")

        let members = try #require(parseError(#"{"points": 150 "tier": "gold"}"#))
        #expect(members.description == "line 1, column 16: expected ',' or '}' after object member")

        // Columns count characters, not bytes.
        let wide = try #require(parseError("[\"é\" x]"))
        #expect(wide.offset == 6)
        #expect(wide.column == 6)
    }

    @Test("trailing data after the value is rejected")
    func trailingData() throws {
        let error = try #require(parseError("{\"a\":1} x"))
        #expect(error.reason == "trailing data after JSON value")
        #expect(error.column == 9)
        #expect(parseError("1 2")?.reason == "trailing data after JSON value")
        #expect(throws: Never.self) { try JSONParser.parse(" {\"a\":1} \r\n\t ") }
    }

    @Test(
        "each malformed input gets a precise reason",
        arguments: [
            ("", "unexpected end of input; expected a value"),
            ("   ", "unexpected end of input; expected a value"),
            ("01", "leading zeros are not allowed"),
            ("-012", "leading zeros are not allowed"),
            ("-", "expected a digit after '-'"),
            ("1.", "expected a digit after the decimal point"),
            ("1e+", "expected a digit in the exponent"),
            ("+1", "numbers cannot start with '+'"),
            (".5", "numbers need a digit before the decimal point"),
            (#""\x""#, #"invalid escape '\x'"#),
            (#""\u12""#, #"invalid \u escape; expected 4 hex digits"#),
            ("\"a\nb\"", "control character U+000A in string"),
            (#"{"a":"b"#, "unterminated string"),
            ("[1,]", "trailing comma before ']'"),
            (#"{"a":1,}"#, "trailing comma before '}'"),
            ("{a:1}", "expected a string key or '}'"),
            (#"{"a" 1}"#, "expected ':' after object key"),
            ("[1 2]", "expected ',' or ']' after array element"),
            ("[1", "unexpected end of input; expected ',' or ']' after array element"),
            ("nul", "invalid literal 'nul'"),
            ("True", "invalid literal 'True'"),
            ("['a']", "strings must use double quotes"),
            ("[\u{c}1]", "expected a value, found U+000C"),
            ("\u{feff}{}", "byte order mark"),
        ])
    func reasons(text: String, reason: String) throws {
        let error = try #require(parseError(text))
        #expect(error.reason.hasPrefix(reason), "\(text.debugDescription): \(error)")
    }

    // MARK: Pretty printing

    @Test("pretty printer matches the golden layout")
    func prettyPrinted() throws {
        let value = try JSONParser.parse(
            #"{"name":"Ada","tags":["a",1,true,null],"empty":{},"none":[],"nested":{"x":-0.5}}"#)
        #expect(
            value.prettyPrinted() == """
                {
                  "name": "Ada",
                  "tags": [
                    "a",
                    1,
                    true,
                    null
                  ],
                  "empty": {},
                  "none": [],
                  "nested": {
                    "x": -0.5
                  }
                }
                """)
        #expect(JSONValue.array([.number(JSONNumber(1))]).prettyPrinted(indent: 4) == "[\n    1\n]")
        #expect(JSONValue.string("x\n").prettyPrinted() == #""x\n""#)
    }
}

/// The compact string encoding, one byte at a time, as Python's `json.dumps(ensure_ascii=False)`
/// writes it; the serializer's word-at-a-time version must agree with it exactly.
private func referenceEscape(_ s: String) -> [UInt8] {
    var out: [UInt8] = [0x22]
    for byte in s.utf8 {
        switch byte {
        case 0x22: out += Array(#"\""#.utf8)
        case 0x5C: out += Array(#"\\"#.utf8)
        case 0x08: out += Array(#"\b"#.utf8)
        case 0x0C: out += Array(#"\f"#.utf8)
        case 0x0A: out += Array(#"\n"#.utf8)
        case 0x0D: out += Array(#"\r"#.utf8)
        case 0x09: out += Array(#"\t"#.utf8)
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            out += Array(#"\u00"#.utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
        default: out.append(byte)
        }
    }
    out.append(0x22)
    return out
}
