/// The 15 event types Loyali delivers, in the order the webhooks guide lists them, then the 6
/// operational events loyali-hooks emits about its own deliveries and sinks.
///
/// Sample payloads reuse the guide's own examples (`tier.upgraded`, `points.earned`,
/// `redemption.created`) verbatim and build the others from the same customer and rewards, so a
/// receiver tested against samples sees one consistent story.
public enum EventCatalogue {
    /// Every catalogued type: the Loyali events in the guide's order, then the operational ones.
    public static let all: [EventType] = loyali + operational

    /// The group name operational events are listed under (`loyali-hooks events`, the dashboard).
    public static let operationalGroupTitle = "Operational"

    /// The operational events: emitted by the runner itself (never read from a source) to the
    /// pipelines whose source is `type: operational`. Their samples describe a delivery of the
    /// Loyali samples, so the story stays the same.
    public static let operational: [EventType] = [
        EventType(
            name: "delivery.failed", group: "delivery",
            summary: "A delivery failed for good: last attempt used up, or a transform step failed (resendable)",
            samplePayload: #"{"delivery_id":"whd_7ae5d58996b485faf2b3e3b138a9fcef","pipeline":"notifications","sink":"slack","event_id":"evt_sample_points_earned","event_type":"points.earned","attempts":6,"error_class":"http_5xx","error":"HTTP 503","http_status":503,"failed_at":"2024-01-21T00:30:41Z"}"#
        ),
        EventType(
            name: "delivery.recovered", group: "delivery",
            summary: "A delivery succeeded after failed attempts",
            samplePayload: #"{"delivery_id":"whd_7ae5d58996b485faf2b3e3b138a9fcef","pipeline":"notifications","sink":"slack","event_id":"evt_sample_points_earned","event_type":"points.earned","attempts":3,"failed_attempts":2,"http_status":200,"recovered_at":"2024-01-20T14:31:07Z"}"#
        ),
        EventType(
            name: "sink.paused", group: "sink",
            summary: "A sink kept failing; its circuit opened and its deliveries wait",
            samplePayload: #"{"pipeline":"notifications","sink":"slack","paused_at":"2024-01-20T14:35:00Z","probe_at":"2024-01-20T14:35:30Z","failing_since":"2024-01-20T14:30:02Z","consecutive_failures":10,"error_class":"timeout","reason":"timeout: no response within 10s"}"#
        ),
        EventType(
            name: "sink.resumed", group: "sink",
            summary: "A paused sink's probe succeeded; its backlog drains",
            samplePayload: #"{"pipeline":"notifications","sink":"slack","resumed_at":"2024-01-20T14:41:30Z"}"#
        ),
        EventType(
            name: "sink.disabled", group: "sink",
            summary: "A sink failed for its whole disable_after and was turned off",
            samplePayload: #"{"pipeline":"notifications","sink":"slack","disabled_at":"2024-01-25T14:30:02Z","failing_since":"2024-01-20T14:30:02Z","consecutive_failures":412,"error_class":"refused","reason":"refused: connection refused"}"#
        ),
        EventType(
            name: "sink.enabled", group: "sink",
            summary: "A disabled sink was turned back on",
            samplePayload: #"{"pipeline":"notifications","sink":"slack","enabled_at":"2024-01-26T09:00:00Z","reason":"enabled with loyali-hooks sinks enable"}"#
        ),
    ]

    /// Whether `name` is an operational event type.
    public static func isOperational(_ name: String) -> Bool { operationalNames.contains(name) }

    /// The wire names of ``operational``.
    public static let operationalNames: Set<String> = Set(operational.map(\.name))

    /// The 15 Loyali event types, in the guide's order.
    public static let loyali: [EventType] = [
        EventType(
            name: "customer.created", group: "customer",
            summary: "New customer added to your program",
            samplePayload: #"{"customer_id":"cust_abc123","email":"alex@example.com","name":"Alex Rivera","tier":{"name":"Bronze","id":"tier_bronze"},"points_balance":0,"joined_at":"2024-01-15T09:12:00Z"}"#
        ),
        EventType(
            name: "customer.updated", group: "customer",
            summary: "Customer profile changed",
            samplePayload: #"{"customer_id":"cust_abc123","email":"alex@example.com","name":"Alex Rivera-Chen","tier":{"name":"Silver","id":"tier_silver"},"points_balance":2200,"changed_fields":["name"]}"#
        ),
        EventType(
            name: "points.earned", group: "points",
            summary: "Points awarded (from event or direct)",
            samplePayload: #"{"customer_id":"cust_abc123","amount":150,"new_balance":2350,"reason":"Purchase - Order #12345"}"#
        ),
        EventType(
            name: "points.redeemed", group: "points",
            summary: "Points spent on a reward",
            samplePayload: #"{"customer_id":"cust_abc123","amount":2500,"new_balance":350,"redemption_id":"red_xyz789","reason":"Redeemed: $25 Gift Card"}"#
        ),
        EventType(
            name: "points.expired", group: "points",
            summary: "Points expired due to inactivity",
            samplePayload: #"{"customer_id":"cust_abc123","amount":200,"new_balance":150,"expired_at":"2024-12-31T23:59:59Z","reason":"No activity for 12 months"}"#
        ),
        EventType(
            name: "points.adjusted", group: "points",
            summary: "Manual points adjustment",
            samplePayload: #"{"customer_id":"cust_abc123","amount":-50,"new_balance":2300,"reason":"Correction - duplicate award for Order #12345","adjusted_by":"support@example.com"}"#
        ),
        EventType(
            name: "tier.upgraded", group: "tier",
            summary: "Customer moved UP a tier",
            samplePayload: #"{"customer_id":"cust_abc123","customer_email":"alex@example.com","previous_tier":{"name":"Silver","id":"tier_silver"},"new_tier":{"name":"Gold","id":"tier_gold"}}"#
        ),
        EventType(
            name: "tier.downgraded", group: "tier",
            summary: "Customer moved DOWN a tier",
            samplePayload: #"{"customer_id":"cust_abc123","customer_email":"alex@example.com","previous_tier":{"name":"Gold","id":"tier_gold"},"new_tier":{"name":"Silver","id":"tier_silver"}}"#
        ),
        EventType(
            name: "redemption.created", group: "redemption",
            summary: "Customer redeemed a reward",
            samplePayload: #"{"redemption_id":"red_xyz789","customer_id":"cust_abc123","reward":{"title":"$25 Gift Card","type":"digital"},"points_spent":2500,"status":"pending"}"#
        ),
        EventType(
            name: "redemption.pending", group: "redemption",
            summary: "Redemption awaiting approval",
            samplePayload: #"{"redemption_id":"red_def456","customer_id":"cust_abc123","reward":{"title":"Insulated Water Bottle","type":"physical"},"points_spent":1200,"status":"pending","requires_approval":true}"#
        ),
        EventType(
            name: "redemption.approved", group: "redemption",
            summary: "Redemption approved",
            samplePayload: #"{"redemption_id":"red_def456","customer_id":"cust_abc123","reward":{"title":"Insulated Water Bottle","type":"physical"},"points_spent":1200,"status":"approved","approved_by":"support@example.com"}"#
        ),
        EventType(
            name: "redemption.fulfilled", group: "redemption",
            summary: "Redemption delivered",
            samplePayload: #"{"redemption_id":"red_def456","customer_id":"cust_abc123","reward":{"title":"Insulated Water Bottle","type":"physical"},"points_spent":1200,"status":"fulfilled","tracking":{"carrier":"UPS","number":"1Z999AA10123456784","url":"https://www.ups.com/track?tracknum=1Z999AA10123456784"}}"#
        ),
        EventType(
            name: "redemption.rejected", group: "redemption",
            summary: "Redemption rejected",
            samplePayload: #"{"redemption_id":"red_ghi012","customer_id":"cust_abc123","reward":{"title":"Weekend Getaway","type":"physical"},"points_spent":50000,"status":"rejected","reason":"Reward out of stock"}"#
        ),
        EventType(
            name: "redemption.cancelled", group: "redemption",
            summary: "Redemption cancelled, points refunded",
            samplePayload: #"{"redemption_id":"red_xyz789","customer_id":"cust_abc123","reward":{"title":"$25 Gift Card","type":"digital"},"points_spent":2500,"status":"cancelled","points_refunded":2500,"new_balance":2850}"#
        ),
        EventType(
            name: "achievement.earned", group: "achievement",
            summary: "Customer earned an achievement badge",
            samplePayload: #"{"customer_id":"cust_abc123","achievement":{"id":"ach_first_purchase","name":"First Purchase","description":"Completed your first purchase"},"earned_at":"2024-01-20T14:30:00Z"}"#
        ),
    ]

    /// Name → type, built once; lookups happen per event and per pipeline filter check.
    private static let byName: [String: EventType] = Dictionary(
        uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The catalogued type with this exact (case-sensitive) wire name, or `nil` if there is none.
    public static func type(named name: String) -> EventType? {
        byName[name]
    }

    /// Every wire name, in catalogue order.
    public static let names: [String] = all.map(\.name)

    /// The distinct groups in catalogue order: `customer`, `points`, `tier`, `redemption`,
    /// `achievement`, then the operational `delivery` and `sink`.
    public static let groups: [String] = {
        var seen: [String] = []
        for type in all where !seen.contains(type.group) { seen.append(type.group) }
        return seen
    }()
}
