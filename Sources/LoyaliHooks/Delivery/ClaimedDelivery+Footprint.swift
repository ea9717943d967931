/// About how much memory a delivery holds while the runner keeps it, for the byte budgets of
/// ingest batches, the hand-off and claims: its body, its strings and a fixed share for the
/// struct, array and string headers. An estimate, cheap to take; what matters is that it grows
/// with the body.
extension ClaimedDelivery {
    /// Bytes held, about.
    var footprint: Int {
        body.count + id.utf8.count + pipeline.utf8.count + sink.utf8.count + eventID.utf8.count
            + eventType.utf8.count + 8 * schedule.count + Self.fixedFootprint
    }

    /// The struct and the headers of its arrays and strings.
    static let fixedFootprint = 192
}

extension NewDelivery {
    /// Bytes held, about (see ``ClaimedDelivery/footprint``).
    var footprint: Int {
        body.count + id.utf8.count + pipeline.utf8.count + sink.utf8.count + eventID.utf8.count
            + eventType.utf8.count + 8 * schedule.count + ClaimedDelivery.fixedFootprint
    }
}
