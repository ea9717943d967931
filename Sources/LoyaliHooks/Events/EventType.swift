/// One kind of Loyali event, as listed in the webhooks guide's event catalogue.
///
/// The catalogue is fixed by the product, so every known type is a value in
/// ``EventCatalogue/all``; pipelines name types by their ``name``.
public struct EventType: Sendable, Hashable, CustomStringConvertible {
    /// The wire name, e.g. `points.earned`; it is the envelope's `event_type`.
    public let name: String
    /// The catalogue group the type belongs to: `customer`, `points`, `tier`, `redemption` or
    /// `achievement` (the text before the dot in ``name``).
    public let group: String
    /// The guide's "When It Fires" text, verbatim.
    public let summary: String
    /// A realistic `data` object for this type as compact JSON text, used by `sample` sources and
    /// test sends so receivers see the same shape they will get in production.
    public let samplePayload: String

    /// Creates an event type. The catalogue is the normal way to get one; this exists so tests and
    /// tools can describe types the catalogue does not (yet) list.
    public init(name: String, group: String, summary: String, samplePayload: String) {
        self.name = name
        self.group = group
        self.summary = summary
        self.samplePayload = samplePayload
    }

    /// The wire name.
    public var description: String { name }
}
