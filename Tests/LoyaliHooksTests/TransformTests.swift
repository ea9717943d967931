import Testing

@testable import LoyaliHooks

// MARK: - Helpers

/// An envelope whose `data` is the JSON object `json`.
private func envelope(_ json: String) throws -> EventEnvelope {
    let data = try JSONParser.parse(json)
    return EventEnvelope(eventID: "evt_1", eventType: "points.earned", createdAt: "2024-01-20T14:30:00Z", data: data)
}

private func path(_ text: String) throws -> FieldPath {
    try FieldPath.parse(text).get()
}

/// Applies `step` to an envelope holding `json` and returns the resulting `data` as compact JSON.
private func apply(_ step: some TransformStep, to json: String) throws -> String {
    var event = try envelope(json)
    let before = event
    let outcome = try step.apply(to: &event)
    #expect(outcome == .keep)
    // Identity fields are never touched.
    #expect(event.eventID == before.eventID)
    #expect(event.eventType == before.eventType)
    #expect(event.createdAt == before.createdAt)
    return event.data.serializedString
}

/// Loads a pipeline whose transform list is `steps` (YAML lines), returning its steps or errors.
private func loadSteps(_ steps: String) -> ([any TransformStep], [String]) {
    let text = """
        source: { type: stdin }
        transform:
        \(steps)
        sinks: { out: { type: stdout } }
        """
    let (result, diagnostics) = PipelineLoader(environment: [:], registry: .builtIn).load(file: "t.yaml", text: text)
    return (result?.0.steps ?? [], diagnostics.map(\.headline))
}

// MARK: - set

@Suite struct SetStepTests {
    @Test func createsNestedObjects() throws {
        let step = SetStep(assignments: [
            (try path("data.program"), .string("gold-rewards")),
            (try path("data.meta.source.region"), .string("eu")),
            (try path("data.meta.version"), .number(JSONNumber(2))),
        ])
        #expect(try apply(step, to: #"{"customer_id":"c1"}"#)
            == #"{"customer_id":"c1","program":"gold-rewards","meta":{"source":{"region":"eu"},"version":2}}"#)
    }

    @Test func replacesAnExistingValueInPlace() throws {
        let step = SetStep(assignments: [(try path("data.amount"), .number(JSONNumber(1_000_000_000_000)))])
        #expect(try apply(step, to: #"{"a":1,"amount":150,"z":2}"#) == #"{"a":1,"amount":1000000000000,"z":2}"#)
    }

    @Test func writesIntoAnExistingNestedObjectAndArrayElement() throws {
        let step = SetStep(assignments: [
            (try path("data.reward.code"), .string("GIFT-1")),
            (try path("data.items.1.sku"), .string("B")),
        ])
        #expect(try apply(step, to: #"{"reward":{"title":"Card"},"items":[{"sku":"a"},{"sku":"b"}]}"#)
            == #"{"reward":{"title":"Card","code":"GIFT-1"},"items":[{"sku":"a"},{"sku":"B"}]}"#)
    }

    @Test func failsWhenAScalarIsInTheWay() throws {
        let step = SetStep(assignments: [(try path("data.amount.currency"), .string("pts"))])
        var event = try envelope(#"{"amount":150}"#)
        #expect(throws: TransformFailure(step: "set", reason: "cannot set data.amount.currency: a non-object value is in the way")) {
            try step.apply(to: &event)
        }
        let missingIndex = SetStep(assignments: [(try path("data.items.5"), .null)])
        var list = try envelope(#"{"items":[1]}"#)
        #expect(throws: TransformFailure.self) { try missingIndex.apply(to: &list) }
    }

    @Test func loadsTypedValuesFromYAML() throws {
        let (steps, errors) = loadSteps(
            #"  - set: { data.s: gold, data.q: "42", data.n: 42, data.d: 12.50, data.b: false, data.z: null, data.l: [1, two], data.o: { k: v } }"#)
        #expect(errors.isEmpty, "\(errors)")
        let step = try #require(steps.first as? SetStep)
        #expect(try apply(step, to: "{}")
            == #"{"s":"gold","q":"42","n":42,"d":12.50,"b":false,"z":null,"l":[1,"two"],"o":{"k":"v"}}"#)
    }
}

// MARK: - remove

@Suite struct RemoveStepTests {
    @Test func removesTopLevelNestedAndArrayFields() throws {
        let step = RemoveStep(paths: [try path("data.internal_notes"), try path("data.tier.id"), try path("data.tags.0")])
        #expect(try apply(step, to: #"{"a":1,"internal_notes":"x","tier":{"name":"Gold","id":"t"},"tags":["p","q"]}"#)
            == #"{"a":1,"tier":{"name":"Gold"},"tags":["q"]}"#)
    }

    @Test func missingFieldsAreNotAnError() throws {
        let step = RemoveStep(paths: [try path("data.nope"), try path("data.a.b.c"), try path("data.n.x")])
        #expect(try apply(step, to: #"{"a":{},"n":5}"#) == #"{"a":{},"n":5}"#)
    }
}

// MARK: - rename

@Suite struct RenameStepTests {
    @Test func siblingRenameKeepsThePosition() throws {
        let step = RenameStep(moves: [(try path("data.customer_id"), try path("data.loyalty_customer_id"))])
        #expect(try apply(step, to: #"{"first":1,"customer_id":"c1","last":2}"#)
            == #"{"first":1,"loyalty_customer_id":"c1","last":2}"#)
    }

    @Test func nestedSiblingRenameKeepsThePosition() throws {
        let step = RenameStep(moves: [(try path("data.tier.name"), try path("data.tier.label"))])
        #expect(try apply(step, to: #"{"tier":{"id":"t","name":"Gold","rank":3},"x":0}"#)
            == #"{"tier":{"id":"t","label":"Gold","rank":3},"x":0}"#)
    }

    @Test func siblingRenameOntoAnExistingKeyReplacesIt() throws {
        let step = RenameStep(moves: [(try path("data.b"), try path("data.a"))])
        #expect(try apply(step, to: #"{"a":1,"b":2,"c":3}"#) == #"{"a":2,"c":3}"#)
    }

    @Test func moveAcrossParents() throws {
        let step = RenameStep(moves: [
            (try path("data.customer.id"), try path("data.customer_id")),
            (try path("data.points"), try path("data.balance.points")),
        ])
        #expect(try apply(step, to: #"{"customer":{"id":"c1","name":"Zoë"},"points":150,"z":true}"#)
            == #"{"customer":{"name":"Zoë"},"z":true,"customer_id":"c1","balance":{"points":150}}"#)
    }

    @Test func moveOntoAnExistingFieldInAnotherParentReplacesItInPlace() throws {
        let step = RenameStep(moves: [(try path("data.new.tier"), try path("data.tier"))])
        #expect(try apply(step, to: #"{"tier":"Silver","new":{"tier":"Gold"},"x":1}"#)
            == #"{"tier":"Gold","new":{},"x":1}"#)
    }

    @Test func missingSourceIsLeftAlone() throws {
        let step = RenameStep(moves: [(try path("data.nope"), try path("data.other")), (try path("data.a.x"), try path("data.y"))])
        #expect(try apply(step, to: #"{"a":{"b":1}}"#) == #"{"a":{"b":1}}"#)
    }

    @Test func movesRunInOrder() throws {
        let step = RenameStep(moves: [(try path("data.a"), try path("data.b")), (try path("data.b"), try path("data.c"))])
        #expect(try apply(step, to: #"{"a":1}"#) == #"{"c":1}"#)
    }

    @Test func moveIntoAScalarFails() throws {
        let step = RenameStep(moves: [(try path("data.a"), try path("data.n.a"))])
        var event = try envelope(#"{"a":1,"n":5}"#)
        #expect(throws: TransformFailure.self) { try step.apply(to: &event) }
    }
}

// MARK: - redact

@Suite struct RedactStepTests {
    @Test func redactsOnlyPresentFields() throws {
        let step = RedactStep(paths: [
            try path("data.customer_email"), try path("data.phone"), try path("data.address.street"), try path("data.card"),
        ])
        #expect(try apply(step, to: #"{"customer_email":"alex@example.com","address":{"street":"1 Main","city":"X"},"card":{"n":1},"amount":5}"#)
            == #"{"customer_email":"[REDACTED]","address":{"street":"[REDACTED]","city":"X"},"card":"[REDACTED]","amount":5}"#)
    }

    @Test func redactingNullKeepsTheKey() throws {
        let step = RedactStep(paths: [try path("data.email")])
        #expect(try apply(step, to: #"{"email":null}"#) == #"{"email":"[REDACTED]"}"#)
    }
}

// MARK: - pick

@Suite struct PickStepTests {
    @Test func keepsListedFieldsInListedOrder() throws {
        let step = PickStep(paths: [try path("data.new_balance"), try path("data.customer_id"), try path("data.missing")])
        #expect(try apply(step, to: #"{"customer_id":"c1","amount":150,"new_balance":2350,"reason":"r"}"#)
            == #"{"new_balance":2350,"customer_id":"c1"}"#)
    }

    @Test func nestedPathsKeepOnlyTheirBranch() throws {
        let step = PickStep(paths: [try path("data.reward.title"), try path("data.customer_id"), try path("data.reward.type")])
        #expect(try apply(step, to: #"{"customer_id":"c1","reward":{"type":"digital","title":"Card","cost":5},"x":1}"#)
            == #"{"reward":{"title":"Card","type":"digital"},"customer_id":"c1"}"#)
    }

    @Test func pickingNothingPresentLeavesAnEmptyObject() throws {
        let step = PickStep(paths: [try path("data.nope")])
        #expect(try apply(step, to: #"{"a":1}"#) == "{}")
    }
}

// MARK: - Paths and the protected envelope

@Suite struct FieldPathTests {
    @Test func parsesDataPaths() throws {
        #expect(try path("data.a.b").segments == ["a", "b"])
        #expect(try path("data.items.0").description == "data.items.0")
    }

    @Test(arguments: [
        ("id", FieldPath.ParseError.protectedField("id")),
        ("event_type", .protectedField("event_type")),
        ("created_at", .protectedField("created_at")),
        ("id.x", .protectedField("id")),
        ("data", .outsideData("data")),
        ("meta.x", .outsideData("meta.x")),
        ("", .empty),
        ("data..a", .emptySegment("data..a")),
        ("data.a.", .emptySegment("data.a.")),
    ])
    func refusesPaths(text: String, error: FieldPath.ParseError) {
        #expect(FieldPath.parse(text) == .failure(error))
    }

    @Test func protectedEnvelopeFieldsAreRefusedAtLoad() {
        let (steps, errors) = loadSteps(
            """
              - set: { id: evt_forged }
              - remove: [event_type]
              - rename: { data.customer_id: created_at }
              - redact: [data.email, created_at]
              - pick: [id, data.a]
              - set: { data: {} }
            """)
        #expect(steps.isEmpty)
        #expect(errors == [
            "t.yaml:3:12: error: set: 'id' is part of the envelope and cannot be changed; only paths under 'data.' can",
            "t.yaml:4:14: error: remove: 'event_type' is part of the envelope and cannot be changed; only paths under 'data.' can",
            "t.yaml:5:33: error: rename target: 'created_at' is part of the envelope and cannot be changed; only paths under 'data.' can",
            "t.yaml:6:26: error: redact: 'created_at' is part of the envelope and cannot be changed; only paths under 'data.' can",
            "t.yaml:7:12: error: pick: 'id' is part of the envelope and cannot be changed; only paths under 'data.' can",
            "t.yaml:8:12: error: set: path 'data' must start with 'data.'",
        ])
    }

    @Test func stepsLoadInOrder() throws {
        let (steps, errors) = loadSteps(
            """
              - redact: data.customer_email
              - rename: { data.a: data.b }
              - pick: [data.b]
            """)
        #expect(errors.isEmpty, "\(errors)")
        #expect(steps.map(\.name) == ["redact", "rename", "pick"])
        #expect((steps.first as? RedactStep)?.paths.map(\.description) == ["data.customer_email"])
    }

    @Test func malformedStepItems() {
        let (_, errors) = loadSteps(
            """
              - redact: [data.a]
                remove: [data.b]
              - just-a-string
            """)
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.contains("a transform step must be a mapping with one key") })
    }
}

// MARK: - Whole pipeline: steps chained

@Suite struct TransformChainTests {
    @Test func stepsApplyInOrderThroughThePlanner() throws {
        let text = """
            pipeline: chain
            source: { type: stdin }
            transform:
              - redact: [data.customer_email]
              - set: { data.channel: push }
              - rename: { data.customer_id: data.user }
              - remove: [data.previous_tier]
            sinks: { out: { type: stdout } }
            """
        let (result, diagnostics) = PipelineLoader(environment: [:], registry: .builtIn).load(file: "c.yaml", text: text)
        #expect(diagnostics.isEmpty)
        let pipeline = try #require(result?.0)
        let input = try envelope(
            #"{"customer_id":"cust_abc123","customer_email":"alex@example.com","previous_tier":{"name":"Silver"},"new_tier":{"name":"Gold"}}"#)
        guard case .deliver(let out, let encoder) = DeliveryPlanner(pipeline: pipeline).plan(input) else {
            Issue.record("expected a delivery")
            return
        }
        #expect(out.data.serializedString
            == #"{"user":"cust_abc123","customer_email":"[REDACTED]","new_tier":{"name":"Gold"},"channel":"push"}"#)
        #expect(String(decoding: encoder.body(deliveryID: "whd_0"), as: UTF8.self)
            == #"{"id":"whd_0","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z","data":{"user":"cust_abc123","customer_email":"[REDACTED]","new_tier":{"name":"Gold"},"channel":"push"}}"#)
    }

    @Test func aFailingStepFailsThePlan() throws {
        let text = """
            source: { type: stdin }
            transform:
              - set: { data.amount.unit: pts }
            sinks: { out: { type: stdout } }
            """
        let (result, _) = PipelineLoader(environment: [:], registry: .builtIn).load(file: "f.yaml", text: text)
        let pipeline = try #require(result?.0)
        guard case .failed(let failure) = DeliveryPlanner(pipeline: pipeline).plan(try envelope(#"{"amount":150}"#)) else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.description == "transform 'set' failed: cannot set data.amount.unit: a non-object value is in the way")
    }
}

// MARK: - Filter

@Suite struct EventFilterTests {
    private func filter(_ include: [String], exclude: [String] = []) throws -> EventFilter {
        EventFilter(
            include: try include.map { try #require(EventPattern($0)) },
            exclude: try exclude.map { try #require(EventPattern($0)) })
    }

    @Test func exactNames() throws {
        let f = try filter(["points.earned", "tier.upgraded"])
        #expect(f.accepts("points.earned"))
        #expect(f.accepts("tier.upgraded"))
        #expect(!f.accepts("points.earned.extra"))
        #expect(!f.accepts("points.redeemed"))
        #expect(!f.accepts("Points.earned"))
        #expect(f.acceptedTypes == ["points.earned", "tier.upgraded"])
    }

    @Test func prefixMatchesOnlyBelowTheGroup() throws {
        let f = try filter(["points.*"])
        #expect(f.accepts("points.earned"))
        #expect(f.accepts("points.a.b"))
        #expect(!f.accepts("points"))
        #expect(!f.accepts("points."))
        #expect(!f.accepts("pointsx.earned"))
        #expect(!f.accepts("tier.upgraded"))
        #expect(f.acceptedTypes == ["points.earned", "points.redeemed", "points.expired", "points.adjusted"])
    }

    @Test func starAndExcludeWins() throws {
        let f = try filter(["*"], exclude: ["redemption.*", "points.expired"])
        #expect(f.accepts("customer.created"))
        #expect(!f.accepts("redemption.created"))
        #expect(!f.accepts("points.expired"))
        #expect(f.acceptedTypes.count == EventCatalogue.names.count - 6 - 1)
        let both = try filter(["redemption.created"], exclude: ["redemption.created"])
        #expect(!both.accepts("redemption.created"))
        #expect(both.acceptedTypes.isEmpty)
        #expect(EventFilter.everything.acceptedTypes == EventCatalogue.names)
    }

    @Test(arguments: ["*.earned", "po*nts", "points*", "", "points..earned", ".earned", "points.ea rned", "points.**"])
    func malformedPatterns(text: String) {
        #expect(EventPattern(text) == nil)
        #expect(EventPattern.malformedReason(text) != nil)
    }

    @Test func patternDescriptionsRoundTrip() {
        for text in ["*", "points.*", "tier.upgraded"] {
            #expect(EventPattern(text)?.description == text)
        }
        #expect(EventPattern("redemptions.*")?.matchesAnyCataloguedType == false)
        #expect(EventPattern("redemption.*")?.matchesAnyCataloguedType == true)
    }

    @Test func loadedFilterFromYAML() throws {
        let text = """
            source: { type: stdin }
            filter:
              events: [redemption.created, "redemption.*", points.earned]
              exclude: [redemption.cancelled]
            sinks: { out: { type: stdout } }
            """
        let (result, diagnostics) = PipelineLoader(environment: [:], registry: .builtIn).load(file: "f.yaml", text: text)
        #expect(diagnostics.isEmpty)
        let f = try #require(result?.0.filter)
        #expect(f.acceptedTypes == [
            "points.earned", "redemption.created", "redemption.pending", "redemption.approved", "redemption.fulfilled",
            "redemption.rejected",
        ])
    }

    @Test func malformedPatternInYAMLIsAnError() {
        let text = """
            source: { type: stdin }
            filter:
              events: ["*.earned", []]
            sinks: { out: { type: stdout } }
            """
        let (_, diagnostics) = PipelineLoader(environment: [:], registry: .builtIn).load(file: "f.yaml", text: text)
        #expect(diagnostics.map(\.headline) == [
            "f.yaml:3:12: error: filter.events: '*.earned' is not an event pattern; use an exact type, 'prefix.*' or '*'",
            "f.yaml:3:24: error: each item of filter.events must be a string, not sequence",
        ])
    }

    @Test func emptyEventsListIsAnError() {
        let text = """
            source: { type: stdin }
            filter: { events: [] }
            sinks: { out: { type: stdout } }
            """
        let (_, diagnostics) = PipelineLoader(environment: [:], registry: .builtIn).load(file: "f.yaml", text: text)
        #expect(diagnostics.map(\.headline) == [
            "f.yaml:2:19: error: filter.events is empty, so this pipeline would deliver nothing; use [\"*\"] for every event"
        ])
    }
}
