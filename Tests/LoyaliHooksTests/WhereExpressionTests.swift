import Foundation
import Testing

@testable import LoyaliHooks

// MARK: - Helpers

/// An envelope of `type` whose `data` is the JSON object `data`.
private func envelope(_ data: String, type: String = "points.earned", createdAt: String = "2024-01-20T14:30:00Z") throws -> EventEnvelope {
    EventEnvelope(eventID: "evt_1", eventType: type, createdAt: createdAt, data: try JSONParser.parse(data))
}

/// Compiles `expression`, failing the test when it does not compile.
private func compiled(_ expression: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> WhereExpression {
    switch WhereExpression.compile(expression) {
    case .success(let compiled): return compiled
    case .failure(let failure):
        Issue.record("'\(expression)' did not compile: \(failure.problems)", sourceLocation: sourceLocation)
        throw failure
    }
}

/// Whether `expression` holds for an event whose data is `data`.
private func holds(_ expression: String, _ data: String, type: String = "points.earned", sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Bool {
    try compiled(expression, sourceLocation: sourceLocation).matches(try envelope(data, type: type))
}

/// The problems of compiling `expression`, as `offset: message`.
private func problems(_ expression: String) -> [String] {
    switch WhereExpression.compile(expression) {
    case .success: return []
    case .failure(let failure): return failure.problems.map { "\($0.offset): \($0.message)" }
    }
}

private func load(_ text: String, file: String = "pipelines/w.yaml") -> (PipelineDefinition?, [Diagnostic]) {
    let (result, diagnostics) = PipelineLoader(environment: [:], registry: .builtIn).load(file: file, text: text)
    return (result?.0, diagnostics)
}

/// A stdout pipeline for `points.*` whose filter has `whereLine` (the whole `where:` entry,
/// possibly several lines, indented under `filter:`).
private func pipeline(where whereLine: String, steps: String = "") -> String {
    """
    pipeline: w
    source: { type: stdin }
    filter:
      events: ["points.*"]
    \(whereLine)
    \(steps)sinks:
      out: { type: stdout }
    """
}

// MARK: - Evaluation

@Suite struct WhereEvaluationTests {
    @Test(arguments: [
        // Exact decimals: no Double rounding, any spelling of the same number is equal.
        ("data.n == 1000000000000", #"{"n": 1e12}"#, true),
        ("data.n == 1e12", #"{"n": 1000000000000.000}"#, true),
        ("data.n > 999999999999.9999999999", #"{"n": 1000000000000}"#, true),
        ("data.n == 9007199254740993", #"{"n": 9007199254740992}"#, false),
        ("data.n > 9007199254740992", #"{"n": 9007199254740993}"#, true),
        ("data.n == 0.1", #"{"n": 0.10}"#, true),
        ("data.n == 0.3", #"{"n": 0.30000000000000004}"#, false),
        ("data.n < 0.3", #"{"n": 0.29999999999999999999}"#, true),
        ("data.n == 0", #"{"n": -0.0}"#, true),
        ("data.n < -1e-300", #"{"n": -2e-300}"#, true),
        ("data.n > 1e308", #"{"n": 1e400}"#, true),
        ("data.n < 1e-400", #"{"n": 1e-401}"#, true),
        ("data.n >= 12.5", #"{"n": 12.50}"#, true),
        ("data.n <= -12345678901234567890", #"{"n": -12345678901234567891}"#, true),
        ("data.n != 5", #"{"n": 5.000001}"#, true),
        // Different types never compare true, whatever the operator.
        ("data.n == 600", #"{"n": "600"}"#, false),
        ("data.n != 600", #"{"n": "600"}"#, false),
        ("data.n > 5", #"{"n": true}"#, false),
        ("data.n == true", #"{"n": 1}"#, false),
        ("data.n == \"a\"", #"{"n": ["a"]}"#, false),
        // A missing path is null.
        ("data.missing == null", #"{}"#, true),
        ("data.n == null", #"{"n": null}"#, true),
        ("data.a.b.c == null", #"{"a": 5}"#, true),
        ("data.missing == 0", #"{}"#, false),
        ("data.missing != 0", #"{}"#, false),
        ("not (data.channel == \"test\")", #"{}"#, true),
        ("data.channel != \"test\"", #"{}"#, false),
        // Strings: code point order, exact.
        ("data.s < \"b\"", #"{"s": "a"}"#, true),
        ("data.s > \"Z\"", #"{"s": "a"}"#, true),
        ("data.s == \"caf\\u00e9\"", #"{"s": "café"}"#, true),
        ("data.s == \"cafe\\u0301\"", #"{"s": "caf\u00e9"}"#, false),
        ("data.s < \"é\"", #"{"s": "z"}"#, true),
        // Booleans and null have no order.
        ("data.b == true", #"{"b": true}"#, true),
        ("data.b != false", #"{"b": true}"#, true),
        ("data.b", #"{"b": true}"#, true),
        ("data.b", #"{"b": "true"}"#, false),
        ("not data.b", #"{}"#, true),
        // in, not in.
        ("data.tier in [\"gold\", \"platinum\"]", #"{"tier": "gold"}"#, true),
        ("data.tier in [\"gold\", \"platinum\"]", #"{"tier": "Gold"}"#, false),
        ("data.tier not in [\"gold\"]", #"{"tier": "silver"}"#, true),
        ("data.tier not in [\"gold\"]", #"{}"#, true),
        ("data.n in [1, 2.50, 3]", #"{"n": 2.5}"#, true),
        ("data.n in [\"2.5\"]", #"{"n": 2.5}"#, false),
        ("data.n in [null]", #"{}"#, true),
        ("data.n in []", #"{"n": 1}"#, false),
        // exists and starts_with.
        ("exists(data.reward.sku)", #"{"reward": {"sku": null}}"#, true),
        ("exists(data.reward.sku)", #"{"reward": {}}"#, false),
        ("exists(data.items.1)", #"{"items": [1, 2]}"#, true),
        ("exists(data.items[2])", #"{"items": [1, 2]}"#, false),
        ("data.items.0.sku == \"A\"", #"{"items": [{"sku": "A"}]}"#, true),
        ("data[\"x-y\"] == 1", #"{"x-y": 1}"#, true),
        ("starts_with(data.reason, \"Purchase\")", #"{"reason": "Purchase - Order #1"}"#, true),
        ("starts_with(data.reason, \"Purchase\")", #"{"reason": "purchase"}"#, false),
        ("starts_with(data.reason, \"\")", #"{"reason": 5}"#, false),
        // Paths on both sides compare values; arrays and objects member by member.
        ("data.a == data.b", #"{"a": 1.0, "b": 1}"#, true),
        ("data.a == data.b", #"{"a": {"x": [1, 2]}, "b": {"x": [1, 2.0]}}"#, true),
        ("data.a == data.b", #"{"a": [1, 2], "b": [2, 1]}"#, false),
        ("data.a < data.b", #"{"a": [1], "b": [2]}"#, false),
        ("data.a == data.b", #"{}"#, true),
        // Precedence: not > and > or; conditions as values.
        ("data.a == 1 or data.b == 1 and data.c == 1", #"{"a": 1}"#, true),
        ("(data.a == 1 or data.b == 1) and data.c == 1", #"{"a": 1}"#, false),
        ("not data.a == 1 or data.b == 1", #"{"a": 1, "b": 1}"#, true),
        ("exists(data.sku) == false", #"{}"#, true),
        ("5 < data.n", #"{"n": 6}"#, true),
        ("true", #"{}"#, true),
        ("false or not false", #"{}"#, true),
    ])
    func evaluates(expression: String, data: String, expected: Bool) throws {
        #expect(try holds(expression, data) == expected, "\(expression) over \(data)")
    }

    @Test func envelopeFieldsCanBeTested() throws {
        let event = try envelope(#"{"amount": 20000}"#, type: "points.adjusted", createdAt: "2024-03-01T00:00:00Z")
        #expect(try compiled(#"event_type == "points.earned" or data.amount > 10000"#).matches(event))
        #expect(!(try compiled(#"event_type == "points.earned""#).matches(event)))
        #expect(try compiled(#"starts_with(event_type, "points.")"#).matches(event))
        #expect(try compiled(#"created_at >= "2024-02-01T00:00:00Z""#).matches(event))
        #expect(try compiled(#"event_type in ["points.adjusted", "points.earned"]"#).matches(event))
    }

    @Test func exactDecimalOrdersEveryPairAsTheDecimalsTheySpell() throws {
        // Sorted ascending; every pair must compare as its position says.
        let ladder = [
            "-100000000000000000001", "-1e20", "-1.5", "-1", "-0.999999999999999999999", "-1e-30", "0",
            "1e-400", "0.000001", "0.1", "0.10000000000000000001", "1", "1.0000000000000000001", "9007199254740993",
            "1e16", "10000000000000001", "1e300",
        ]
        let values = try ladder.map { try #require(ExactDecimal($0), "\($0)") }
        for i in values.indices {
            for j in values.indices {
                #expect((values[i] < values[j]) == (i < j), "\(ladder[i]) < \(ladder[j])")
                #expect((values[i] == values[j]) == (i == j), "\(ladder[i]) == \(ladder[j])")
            }
        }
        #expect(ExactDecimal("1E+2") == ExactDecimal("100"))
        #expect(ExactDecimal("-0") == ExactDecimal("0.000"))
        #expect(ExactDecimal("1e99999999999999999999999") != nil)
        for bad in ["", "-", "1.", ".5", "1e", "1e+", "0x10", "1 ", "NaN", "--1"] {
            #expect(ExactDecimal(bad) == nil, "\(bad)")
        }
    }
}

// MARK: - Compile errors

@Suite struct WhereCompileErrorTests {
    @Test(arguments: [
        ("data.amount >", "13: expected a value (a path, a literal or '('), found the end of the expression"),
        ("data.amount = 5", "12: use '==' to compare, not '='"),
        ("data.a == 1 && data.b == 2", "12: use 'and' to join conditions, not '&&'"),
        ("!exists(data.a)", "0: use 'not' to negate a condition, not '!'"),
        ("data.a == 1 data.b == 2", "12: unexpected 'data.b' after a complete condition; join conditions with 'and' or 'or'"),
        ("1 < data.x < 5", "11: comparisons do not chain; join them with 'and', e.g. 1 < data.x and data.x < 5"),
        ("(data.a == 1", "12: expected ')' to close the '(' at column 1, found the end of the expression"),
        ("data.tier in \"gold\"", "13: expected '[' after 'in', e.g. in [\"gold\", \"platinum\"]; found '\"gold\"'"),
        ("data.tier in [\"gold\" \"x\"]", "21: expected ',' or ']' in the list, found '\"x\"'"),
        ("data.s == \"abc", "10: unterminated string; expected a closing \""),
        ("data.n == 1.", "12: a number needs a digit after the decimal point"),
        ("data.customer-id == 1", "13: a key with '-' is written in brackets, e.g. data[\"customer-id\"]"),
        ("", "0: the expression is empty; write a condition such as data.amount > 100"),
        ("exist(data.sku)", "0: unknown function 'exist'; did you mean 'exists'?"),
        ("startswith(data.reason, \"x\")", "0: unknown function 'startswith'; did you mean 'starts_with'?"),
        ("lower(data.reason) == \"x\"", "0: unknown function 'lower'; the functions are exists(path) and starts_with(path, \"prefix\")"),
        ("exists(\"data.sku\")", "7: exists takes one path, e.g. exists(data.reward.sku)"),
        ("starts_with(data.reason, 5)", "25: the second argument of starts_with is a quoted string"),
        ("dta.amount > 5", "0: unknown name 'dta': a path starts at data, event_type or created_at, and a string needs quotes; did you mean 'data'?"),
        ("data.tier == gold", "13: unknown name 'gold': a path starts at data, event_type or created_at, and a string needs quotes"),
        ("id == \"evt_1\"", "0: the envelope's 'id' is the delivery id, made per sink after filtering, so 'where' cannot test it"),
        ("event_type.name == \"x\"", "0: event_type is a string; it has no key 'name'"),
        ("event_type == \"points.earnd\"", "14: unknown event type 'points.earnd'; did you mean 'points.earned'?"),
        ("event_type == 5", "11: this compares a string with a number, which is always false: values of different types never compare true"),
        ("data.n > true", "9: '>' orders numbers or strings; this is a boolean"),
        ("data.n != null", "7: '!= null' is always false: values of different types never compare true; write exists(data.n) to test that a field is there, or not (data.n == null)"),
        ("\"gold\"", "0: expected a condition, found the string \"gold\"; compare it with a path, e.g. data.amount > 100"),
        ("data.n > 5 and 100", "15: expected a condition, found the number 100; compare it with a path, e.g. data.amount > 100"),
        ("event_type", "0: event_type is a string, not a condition; compare it, e.g. event_type == \"points.earned\""),
        ("data.n in [1, data.m]", "14: a list after 'in' holds literals (strings, numbers, true, false, null)"),
        ("event_type in [1, 2]", "11: this compares a string with a list that holds no strings, which is always false"),
    ])
    func reportsWhereAndWhy(expression: String, expected: String) {
        #expect(problems(expression).first == expected, "\(expression)")
    }

    @Test func typeProblemsAreAllReported() {
        #expect(problems(#"exist(data.a) and dta.b == 1 and "a" == 1"#).count == 3)
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "(", count: 10_000) + "true" + String(repeating: ")", count: 10_000)
        #expect(problems(deep) == ["64: the expression nests more than 64 levels deep"])
        let nots = String(repeating: "not ", count: 10_000) + "true"
        #expect(problems(nots).count == 1)
        #expect(problems(String(repeating: "(", count: 64) + "true" + String(repeating: ")", count: 64)).isEmpty)
    }
}

// MARK: - In pipeline files

@Suite struct WherePipelineTests {
    @Test func errorsPointInsideAPlainExpression() throws {
        let (definition, diagnostics) = load(pipeline(where: "  where: data.amount >= 500 and exist(data.tier)"))
        #expect(definition == nil)
        #expect(diagnostics.map(\.description) == [
            """
            pipelines/w.yaml:5:33: error: filter.where: unknown function 'exist'; did you mean 'exists'?
                where: data.amount >= 500 and exist(data.tier)
                                              ^
            """
        ])
    }

    @Test(arguments: [
        // Quoted: the quote and escapes are not characters of the expression.
        (#"  where: "data.tier == \"gold\" and exist(data.a)""#, 5, 37),
        (#"  where: 'data.tier == ''gold'' and exist(data.a)'"#, 5, 37),
        // Folded and literal blocks: the expression's own line and column.
        ("  where: >\n    data.amount >= 500\n    and exist(data.a)", 7, 9),
        ("  where: |\n    data.amount >= 500\n      and exist(data.a)", 7, 11),
        // A plain scalar over several lines.
        ("  where: data.amount >= 500\n    and exist(data.a)", 6, 9),
        // Flow mapping, tag before the value.
        ("  where: !!str data.amount >= 500 and exist(data.a)", 5, 39),
    ])
    func errorsPointAtTheirOwnLineAndColumn(whereLine: String, line: Int, column: Int) throws {
        let (_, diagnostics) = load(pipeline(where: whereLine))
        let error = try #require(diagnostics.first)
        #expect(error.message == "filter.where: unknown function 'exist'; did you mean 'exists'?")
        #expect(error.location == SourceLocation(path: "pipelines/w.yaml", line: line, column: column), "\(whereLine)")
    }

    @Test func anErrorAtTheEndPointsJustPastTheExpression() throws {
        let (_, diagnostics) = load(pipeline(where: "  where: data.amount >="))
        #expect(diagnostics.first?.location?.column == 24)
    }

    @Test func whereMustBeAString() throws {
        let (_, diagnostics) = load(pipeline(where: "  where: [data.a == 1]"))
        #expect(diagnostics.map(\.message) == ["filter.where must be a string, not sequence"])
    }

    @Test func whereRunsAfterTheTypeFilterAndBeforeTheSteps() throws {
        // The step would make every event pass, and drops the field where tests: where must see
        // the event as it came in.
        let text = pipeline(
            where: "  where: data.amount >= 500 and not exists(data.flag)",
            steps: "transform:\n  - set: { data.amount: 1000000 }\n  - remove: [data.flag]\n  - set: { data.flag: true }\n")
        let (loaded, diagnostics) = load(text)
        let definition = try #require(loaded, "\(diagnostics)")
        let planner = DeliveryPlanner(pipeline: definition)
        let events = [
            try envelope(#"{"amount": 500}"#),
            try envelope(#"{"amount": 499.999}"#),
            try envelope(#"{"amount": 500, "flag": 1}"#),
            try envelope(#"{"amount": 900}"#, type: "tier.upgraded"),
        ]
        let single = events.map { planner.plan($0) }
        let batch = planner.plan(batch: events)
        for plans in [single, batch] {
            let delivered = plans.map { plan -> Bool in if case .deliver = plan { true } else { false } }
            #expect(delivered == [true, false, false, false])
            if case .deliver(let transformed, _) = plans[0] {
                #expect(transformed.data.value(at: ["amount"]) == .number(JSONNumber(literal: "1000000")))
            }
        }
    }

    @Test func theExpressionIsListedWithTheRoutes() throws {
        let (loaded, _) = load(pipeline(where: #"  where: data.tier in ["gold"]"#))
        let definition = try #require(loaded)
        let json = JSONValue.object(DeliveryJSON.pipeline(definition)).serializedString
        #expect(json.contains(#""where":"data.tier in [\"gold\"]""#))
        let routes = DeliveryJSON.routes([definition]).map(\.serializedString)
        #expect(routes.contains { $0.contains(#""event_type":"points.earned""#) && $0.contains(#""where":"data.tier in [\"gold\"]""#) })
    }
}

// MARK: - Against an independent evaluator

/// Random `where` expressions over random events, evaluated here and by
/// `Tests/Fixtures/where-reference.py`, a separate evaluator in Python whose numbers are
/// `decimal.Decimal`s; the two must agree on every case.
@Suite struct WhereReferenceTests {
    /// SplitMix64: a seeded generator, so a failure replays.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Number spellings whose exact values sit close together, or beyond Double.
    static let numbers = [
        "0", "-0", "0.0", "0.000", "1", "-1", "1.0", "1e0", "10", "1e1", "0.1", "0.10", "1e-1", "0.3",
        "0.30000000000000004", "0.29999999999999999999", "1e12", "1000000000000", "1000000000000.0000000001",
        "999999999999.9999999999", "1E12", "9007199254740992", "9007199254740993", "9007199254740993.0",
        "-9007199254740993", "12.5", "12.50", "1.25e1", "-1.5", "-1.50", "1e400", "1e-400", "-1e400",
        "123456789012345678901234567890", "123456789012345678901234567891", "500", "499.999999999999999999",
        "5e2", "500.0000000000000000001", "-0.0000001", "-1e-7", "2", "3",
    ]
    static let strings = ["", "a", "b", "ab", "Z", "gold", "Gold", "platinum", "café", "cafe\u{301}", "é", "z", "Purchase - Order", "Purch"]
    static let dataPaths = [
        "data.n", "data.m", "data.s", "data.t", "data.b", "data.z", "data.r.sku", "data.r", "data.items.0",
        "data.items.1", "data[\"x-y\"]", "data.items[2]", "data.missing", "data.n.deeper", "data",
    ]
    static let eventTypes = ["points.earned", "points.redeemed", "tier.upgraded"]

    struct Generator {
        var random: SeededGenerator

        mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &random)] }
        mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }

        /// A JSON value for the event's data.
        mutating func json(depth: Int = 0) -> String {
            switch Int.random(in: 0..<(depth > 1 ? 5 : 7), using: &random) {
            case 0: return "null"
            case 1: return chance(50) ? "true" : "false"
            case 2, 3: return pick(WhereReferenceTests.numbers)
            case 4: return quoted(pick(WhereReferenceTests.strings))
            case 5: return "[" + (0..<Int.random(in: 0...3, using: &random)).map { _ in json(depth: depth + 1) }.joined(separator: ",") + "]"
            default:
                let keys = ["sku", "n", "s"].filter { _ in chance(60) }
                return "{" + keys.map { "\(quoted($0)):\(json(depth: depth + 1))" }.joined(separator: ",") + "}"
            }
        }

        /// The event's data: most keys present, each any type.
        mutating func data() -> String {
            var members: [String] = []
            for key in ["n", "m", "s", "t", "b", "z", "r", "items", "x-y"] where chance(80) {
                let value: String
                switch key {
                case "n", "m": value = chance(75) ? pick(WhereReferenceTests.numbers) : json()
                case "s", "t": value = chance(75) ? quoted(pick(WhereReferenceTests.strings)) : json()
                case "b": value = chance(75) ? (chance(50) ? "true" : "false") : json()
                case "r": value = chance(70) ? "{\"sku\":\(json(depth: 1))}" : json()
                case "items": value = "[" + (0..<Int.random(in: 0...3, using: &random)).map { _ in json(depth: 1) }.joined(separator: ",") + "]"
                default: value = json()
                }
                members.append("\(quoted(key)):\(value)")
            }
            return "{" + members.joined(separator: ",") + "}"
        }

        /// A literal as written in an expression.
        mutating func literal(orderable: Bool = false, allowNull: Bool = true) -> String {
            switch Int.random(in: 0..<(orderable ? 2 : 4), using: &random) {
            case 0: return pick(WhereReferenceTests.numbers)
            case 1: return quoted(pick(WhereReferenceTests.strings))
            case 2: return chance(50) ? "true" : "false"
            default: return allowNull ? "null" : "true"
            }
        }

        mutating func comparison() -> String {
            let op = pick(["==", "!=", "<", "<=", ">", ">="])
            let ordering = op != "==" && op != "!="
            let space = chance(80) ? " " : ""
            switch Int.random(in: 0..<10, using: &random) {
            case 0:
                return "event_type\(space)\(op == "<" || op == ">" ? "==" : op)\(space)\(quoted(pick(WhereReferenceTests.eventTypes)))"
            case 1:
                return "\(pick(WhereReferenceTests.dataPaths))\(space)\(op)\(space)\(pick(WhereReferenceTests.dataPaths))"
            case 2:
                return "\(literal(orderable: ordering, allowNull: op != "!="))\(space)\(op)\(space)\(pick(WhereReferenceTests.dataPaths))"
            default:
                return "\(pick(WhereReferenceTests.dataPaths))\(space)\(op)\(space)\(literal(orderable: ordering, allowNull: op != "!="))"
            }
        }

        mutating func condition(depth: Int = 0) -> String {
            let leaf = depth >= 3 || chance(35)
            if leaf {
                switch Int.random(in: 0..<12, using: &random) {
                case 0: return "exists(\(pick(WhereReferenceTests.dataPaths)))"
                case 1: return "starts_with(\(pick(["data.s", "data.t", "data.n", "event_type", "data.missing"])), \(quoted(pick(WhereReferenceTests.strings))))"
                case 2:
                    let items = (0..<Int.random(in: 0...4, using: &random)).map { _ in literal() }
                    return "\(pick(WhereReferenceTests.dataPaths)) \(chance(30) ? "not in" : "in") [\(items.joined(separator: ", "))]"
                case 3: return "event_type in [\(WhereReferenceTests.eventTypes.filter { _ in chance(50) }.map(quoted).joined(separator: ","))]"
                case 4: return pick(["data.b", "data.z", "data.missing", "true", "false"])
                default: return comparison()
                }
            }
            switch Int.random(in: 0..<4, using: &random) {
            case 0: return "not \(chance(50) ? "(\(condition(depth: depth + 1)))" : condition(depth: 3))"
            case 1: return "(\(condition(depth: depth + 1)))"
            case 2: return "\(condition(depth: depth + 1)) and \(condition(depth: depth + 1))"
            default: return "\(condition(depth: depth + 1)) or \(condition(depth: depth + 1))"
            }
        }

        func quoted(_ text: String) -> String { JSONValue.string(text).serializedString }
    }

    @Test(arguments: [UInt64(13), 2024, 0xDEC1_3A15])
    func agreesWithTheReferenceEvaluator(seed: UInt64) throws {
        var generator = Generator(random: SeededGenerator(state: seed))
        var lines: [String] = []
        var ours: [Bool] = []
        var cases: [(String, String, String)] = []
        for _ in 0..<1500 {
            let expression = generator.condition()
            let data = generator.data()
            let type = generator.pick(WhereReferenceTests.eventTypes)
            let compiled = try compiled(expression)
            ours.append(compiled.matches(try envelope(data, type: type)))
            cases.append((expression, data, type))
            let line = JSONValue.object(JSONObject([
                "expr": .string(expression), "event_type": .string(type), "created_at": .string("2024-01-20T14:30:00Z"),
                "data": .string(data),
            ]))
            lines.append(line.serializedString)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("where-reference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("cases.jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: input)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", CLI.fixtures.appendingPathComponent("where-reference.py").path, input.path]
        let output = Pipe()
        process.standardOutput = output
        try process.runTiedToTests()
        let answers = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0 && answers.count == cases.count, "the reference evaluator failed")
        var disagreements = 0
        for (index, answer) in answers.enumerated() where answer != String(ours[index]) {
            disagreements += 1
            if disagreements <= 5 {
                Issue.record("\(cases[index].0) over \(cases[index].2) \(cases[index].1): ours \(ours[index]), reference \(answer)")
            }
        }
        #expect(disagreements == 0)
        // Both outcomes are well represented, so agreement means something.
        #expect(ours.filter { $0 }.count > cases.count / 10 && ours.filter { !$0 }.count > cases.count / 10)
    }
}
