/// One ordering key of one sink: the deliveries sharing it go one at a time, in store order (see
/// ``NewDelivery/orderKey``).
struct OrderedKey: Hashable, Sendable {
    /// The pipeline's name.
    var pipeline: String
    /// The sink's name.
    var sink: String
    /// The key taken from the event.
    var key: String
}
