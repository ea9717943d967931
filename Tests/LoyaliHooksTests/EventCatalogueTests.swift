import Foundation
import Testing

@testable import LoyaliHooks

@Suite("Event catalogue")
struct EventCatalogueTests {
    static let guideOrder = [
        "customer.created", "customer.updated",
        "points.earned", "points.redeemed", "points.expired", "points.adjusted",
        "tier.upgraded", "tier.downgraded",
        "redemption.created", "redemption.pending", "redemption.approved", "redemption.fulfilled",
        "redemption.rejected", "redemption.cancelled",
        "achievement.earned",
    ]

    static let operationalOrder = [
        "delivery.failed", "delivery.recovered", "sink.paused", "sink.resumed", "sink.disabled", "sink.enabled",
    ]

    @Test func namesAreTheGuidesFifteenInOrderThenTheOperationalSix() {
        #expect(EventCatalogue.loyali.map(\.name) == Self.guideOrder)
        #expect(EventCatalogue.operational.map(\.name) == Self.operationalOrder)
        #expect(EventCatalogue.names == Self.guideOrder + Self.operationalOrder)
        #expect(EventCatalogue.all.map(\.name) == Self.guideOrder + Self.operationalOrder)
        #expect(Set(EventCatalogue.names).count == 21)
        #expect(Self.operationalOrder.allSatisfy(EventCatalogue.isOperational))
        #expect(!Self.guideOrder.contains(where: EventCatalogue.isOperational))
    }

    @Test func groupsAreInGuideOrderAndMatchNamePrefixes() {
        #expect(EventCatalogue.groups == ["customer", "points", "tier", "redemption", "achievement", "delivery", "sink"])
        for type in EventCatalogue.all {
            #expect(type.name.hasPrefix(type.group + "."), "\(type.name) is in group \(type.group)")
        }
    }

    @Test func summariesAreTheGuidesText() {
        for type in EventCatalogue.all {
            #expect(!type.summary.isEmpty, "\(type.name)")
        }
        #expect(EventCatalogue.type(named: "tier.upgraded")?.summary == "Customer moved UP a tier")
        #expect(
            EventCatalogue.type(named: "redemption.cancelled")?.summary
                == "Redemption cancelled, points refunded")
        #expect(
            EventCatalogue.type(named: "points.earned")?.summary == "Points awarded (from event or direct)")
    }

    @Test func lookupByName() {
        #expect(EventCatalogue.type(named: "achievement.earned")?.group == "achievement")
        #expect(EventCatalogue.type(named: "point.earned") == nil)
        #expect(EventCatalogue.type(named: "Points.Earned") == nil)
        #expect(EventCatalogue.type(named: "") == nil)
    }

    /// Operational samples carry what the runner puts in the real events, about a delivery of
    /// the Loyali samples.
    @Test(arguments: EventCatalogue.operational)
    func operationalSampleHasTheRunnersFields(_ type: EventType) throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(type.samplePayload.utf8)) as? [String: Any])
        #expect(!Self.hasWhitespaceOutsideStrings(type.samplePayload), "\(type.name) is not compact")
        #expect(object["pipeline"] is String && object["sink"] is String, "\(type.name)")
        if type.group == "delivery" {
            for key in ["delivery_id", "event_id", "event_type", "attempts", "http_status"] {
                #expect(object[key] != nil, "\(type.name) lacks \(key)")
            }
        }
        #expect(object[String(type.name.dropFirst(type.group.count + 1)) + "_at"] is String, "\(type.name)")
    }

    @Test(arguments: EventCatalogue.loyali)
    func samplePayloadIsCompactJSONObject(_ type: EventType) throws {
        let data = Data(type.samplePayload.utf8)
        let parsed = try JSONSerialization.jsonObject(with: data)
        let object = try #require(parsed as? [String: Any], "\(type.name) sample is not an object")
        #expect(!object.isEmpty)
        #expect(!Self.hasWhitespaceOutsideStrings(type.samplePayload), "\(type.name) is not compact")
        #expect(object["customer_id"] as? String == "cust_abc123", "\(type.name)")
        if type.group == "redemption" {
            #expect(object["redemption_id"] is String)
            #expect(object["status"] as? String == Self.expectedStatus(type.name))
        }
    }

    /// Compact JSON has whitespace only inside string literals.
    static func hasWhitespaceOutsideStrings(_ json: String) -> Bool {
        var inString = false
        var escaped = false
        for c in json.unicodeScalars {
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true
            } else if c == " " || c == "\n" || c == "\t" || c == "\r" {
                return true
            }
        }
        return false
    }

    @Test func compactnessCheckCanFail() {
        #expect(Self.hasWhitespaceOutsideStrings(#"{"a": 1}"#))
        #expect(!Self.hasWhitespaceOutsideStrings(#"{"a":"x: y, \" z"}"#))
    }

    static func expectedStatus(_ name: String) -> String {
        name == "redemption.created" ? "pending" : String(name.dropFirst("redemption.".count))
    }

    @Test func guideExamplesAreUsedVerbatim() {
        #expect(
            EventCatalogue.type(named: "points.earned")?.samplePayload
                == #"{"customer_id":"cust_abc123","amount":150,"new_balance":2350,"reason":"Purchase - Order #12345"}"#)
        #expect(
            EventCatalogue.type(named: "tier.upgraded")?.samplePayload
                == #"{"customer_id":"cust_abc123","customer_email":"alex@example.com","previous_tier":{"name":"Silver","id":"tier_silver"},"new_tier":{"name":"Gold","id":"tier_gold"}}"#)
        #expect(
            EventCatalogue.type(named: "redemption.created")?.samplePayload
                == #"{"redemption_id":"red_xyz789","customer_id":"cust_abc123","reward":{"title":"$25 Gift Card","type":"digital"},"points_spent":2500,"status":"pending"}"#)
    }
}

@Suite("Did-you-mean suggestions")
struct SuggestionTests {
    static let keys = ["pipeline", "description", "source", "filter", "transform", "sign", "sinks"]

    @Test func suggestsCloseEventTypes() {
        #expect(Suggestion.closest(to: "point.earned", in: EventCatalogue.names) == "points.earned")
        #expect(Suggestion.closest(to: "redemtion.created", in: EventCatalogue.names) == "redemption.created")
        #expect(Suggestion.closest(to: "tier.upgrade", in: EventCatalogue.names) == "tier.upgraded")
        #expect(Suggestion.closest(to: "Points.Earned", in: EventCatalogue.names) == "points.earned")
    }

    @Test func suggestsCloseConfigKeys() {
        #expect(Suggestion.closest(to: "sinkz", in: Self.keys) == "sinks")
        #expect(Suggestion.closest(to: "filtr", in: Self.keys) == "filter")
        #expect(Suggestion.closest(to: "trnasform", in: Self.keys) == "transform")
    }

    @Test func adjacentSwapCostsOne() {
        #expect(Suggestion.distance(Array("reedmption"), Array("redemption")) == 1)
        #expect(Suggestion.distance(Array("ab"), Array("ba")) == 1)
        #expect(Suggestion.distance(Array("kitten"), Array("sitting")) == 3)
        #expect(Suggestion.distance(Array(""), Array("abc")) == 3)
        #expect(Suggestion.distance(Array("same"), Array("same")) == 0)
    }

    @Test func farWordsGetNoSuggestion() {
        #expect(Suggestion.closest(to: "xyz", in: Self.keys) == nil)
        #expect(Suggestion.closest(to: "xyz", in: EventCatalogue.names) == nil)
        #expect(Suggestion.closest(to: "", in: Self.keys) == nil)
        #expect(Suggestion.closest(to: "anything", in: [String]()) == nil)
    }

    @Test func explicitMaxDistance() {
        #expect(Suggestion.closest(to: "snks", in: Self.keys, maxDistance: 0) == nil)
        #expect(Suggestion.closest(to: "snk", in: Self.keys, maxDistance: 2) == "sinks")
    }

    @Test func tieGoesToEarliestCandidate() {
        #expect(Suggestion.closest(to: "cat", in: ["bat", "hat"]) == "bat")
        #expect(Suggestion.closest(to: "cat", in: ["hat", "bat"]) == "hat")
    }

    @Test func didYouMeanText() {
        #expect(Suggestion.didYouMean("sinkz", in: Self.keys) == "; did you mean 'sinks'?")
        #expect(Suggestion.didYouMean("xyz", in: Self.keys) == "")
    }
}

@Suite("Event patterns")
struct EventPatternTests {
    @Test func exactPattern() throws {
        let p = try #require(EventPattern("points.earned"))
        #expect(p.kind == .exact("points.earned"))
        #expect(p.matches("points.earned"))
        #expect(!p.matches("points.earned.x"))
        #expect(!p.matches("points.earne"))
        #expect(!p.matches("points.redeemed"))
        #expect(p.description == "points.earned")
    }

    @Test func prefixPattern() throws {
        let p = try #require(EventPattern("points.*"))
        #expect(p.kind == .prefix("points"))
        #expect(p.matches("points.earned"))
        #expect(p.matches("points.adjusted"))
        #expect(!p.matches("points"))
        #expect(!p.matches("points."))
        #expect(!p.matches("pointsx.y"))
        #expect(!p.matches("tier.upgraded"))
        #expect(!p.matches(""))
        #expect(p.description == "points.*")
    }

    @Test func wildcardMatchesEverything() throws {
        let p = try #require(EventPattern("*"))
        #expect(p.kind == .any)
        for name in EventCatalogue.names { #expect(p.matches(name)) }
        #expect(p.matches("custom.thing"))
        #expect(p.description == "*")
    }

    @Test(arguments: [
        "", "points.", "*.earned", "po*nts", "points*", "points.**", "*.*", ".earned", ".*",
        "points..earned", "points earned", " points.earned", "points.earned\n", "pöints.earned", "**",
    ])
    func malformedPatternsAreRejected(_ text: String) {
        #expect(EventPattern(text) == nil)
        #expect(EventPattern.malformedReason(text) != nil)
    }

    @Test func malformedReasonsSayWhat() {
        #expect(EventPattern.malformedReason("*.earned")?.contains("'*'") == true)
        #expect(EventPattern.malformedReason("points.")?.contains("empty segment") == true)
        #expect(EventPattern.malformedReason("points earned")?.contains("' '") == true)
        #expect(EventPattern.malformedReason("points.earned") == nil)
    }

    @Test func cataloguedTypeCoverage() throws {
        #expect(try #require(EventPattern("points.earned")).matchesAnyCataloguedType)
        #expect(try #require(EventPattern("redemption.*")).matchesAnyCataloguedType)
        #expect(try #require(EventPattern("*")).matchesAnyCataloguedType)
        #expect(try #require(EventPattern("point.earned")).matchesAnyCataloguedType == false)
        #expect(try #require(EventPattern("redemptions.*")).matchesAnyCataloguedType == false)
        #expect(try #require(EventPattern("points")).matchesAnyCataloguedType == false)
    }

    @Test func prefixSelectsExactlyItsGroup() throws {
        for group in EventCatalogue.groups {
            let p = try #require(EventPattern(group + ".*"))
            let selected = EventCatalogue.all.filter { p.matches($0.name) }.map(\.name)
            #expect(selected == EventCatalogue.all.filter { $0.group == group }.map(\.name))
        }
    }

    @Test func equalPatternsHashEqual() {
        #expect(Set(["points.*", "points.*", "*", "points.earned"].compactMap(EventPattern.init)).count == 3)
    }
}

@Suite("Bundled sample events")
struct SampleEventsFileTests {
    /// The package root, found from this file's path so the test runs from any directory.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func everyLineIsAValidEventAndAllTypesAppear() throws {
        let url = Self.root.appendingPathComponent("pipelines/events/sample.jsonl")
        let text = try String(contentsOf: url, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(text.hasSuffix("\n"))
        #expect((25...30).contains(lines.count))
        var seen = Set<String>()
        for (number, line) in zip(1..., lines) {
            let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8))
            let event = try #require(parsed as? [String: Any], "line \(number) is not an object")
            let type = try #require(event["event_type"] as? String, "line \(number)")
            #expect(EventCatalogue.type(named: type) != nil, "line \(number): unknown \(type)")
            #expect(event["data"] is [String: Any], "line \(number): data is not an object")
            if let id = event["id"] { #expect((id as? String)?.hasPrefix("evt_") == true, "line \(number)") }
            seen.insert(type)
        }
        #expect(seen == Set(EventCatalogue.loyali.map(\.name)))
    }
}
