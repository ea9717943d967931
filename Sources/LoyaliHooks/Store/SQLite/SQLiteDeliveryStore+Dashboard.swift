/// The dashboard's reads on SQLite: the keyset-paged log (its statements: ``SQLiteLogQuery``) and
/// a delivery's stored body. The charts read the maintained aggregates
/// (`SQLiteDeliveryStore+Rollups.swift`).
extension SQLiteDeliveryStore {
    public func page(_ filter: DeliveryQuery, search: String?, untilMs: Int64?, before: DeliveryLogCursor?) throws -> DeliveryLogPage {
        let query = SQLiteLogQuery(filter: filter, search: search, untilMs: untilMs, before: before)
        let size = query.size
        return try withDatabase { database in
            // One snapshot for the probe and the page.
            try database.execute("BEGIN")
            defer { try? database.execute("COMMIT") }
            func count(_ probe: SQLiteLogQuery.Statement) throws -> Int {
                try database.withStatement(probe.sql) { statement in
                    try probe.bind(to: statement)
                    return try statement.step() ? statement.int(at: 0) : 0
                }
            }
            var access = query.orderedAccess
            if let probe = query.searchProbe, try count(probe) < SQLiteLogQuery.searchCap {
                access = .search
            } else if let probe = query.probe, let sorted = query.sortedAccess, try count(probe) < SQLiteLogQuery.sortCap {
                access = sorted
            }
            let select = query.select(access)
            return try database.withStatement(select.sql) { statement in
                try select.bind(to: statement)
                var rows: [DeliverySummary] = []
                var sequences: [Int64] = []
                var durations: [Int64?] = []
                while try statement.step() {
                    rows.append(Self.summary(from: statement))
                    sequences.append(statement.int64(at: 12))
                    durations.append(statement.optionalInt64(at: 13))
                }
                guard rows.count > size else { return DeliveryLogPage(rows: rows, next: nil, lastDurationsMs: durations) }
                let last = size - 1
                return DeliveryLogPage(
                    rows: Array(rows.prefix(size)),
                    next: DeliveryLogCursor(updatedAtMs: rows[last].updatedAtMs, sequence: sequences[last]),
                    lastDurationsMs: Array(durations.prefix(size)))
            }
        }
    }

    /// The stored-id range of the canonical ids starting with `prefix` (`whd_` and lowercase hex
    /// digits): ids are stored as 16 raw bytes, so a hex prefix is a byte range (an odd last digit
    /// is the high nibble of one byte). `nil` when `prefix` is no such prefix.
    static func idRange(prefix: String) -> (low: [UInt8], high: [UInt8]?)? {
        guard prefix.hasPrefix("whd_") else { return nil }
        let digits = Array(prefix.utf8.dropFirst(4))
        guard digits.count <= 32, digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        guard var low = Hex.decode(String(decoding: digits.prefix(digits.count & ~1), as: UTF8.self)) else { return nil }
        var high = low
        if digits.count % 2 == 1, let nibble = Hex.decode("0" + String(UnicodeScalar(digits.last!)))?.first {
            low.append(nibble << 4)
            high.append(nibble << 4)
            // Carry into the next nibble: 0xf0 + 0x10 overflows into the byte before.
            if nibble < 15 {
                high[high.count - 1] = (nibble + 1) << 4
                return (low, high)
            }
            high.removeLast()
        }
        // The smallest byte string above every string starting with `high`.
        while let last = high.last {
            if last < 0xFF {
                high[high.count - 1] = last + 1
                return (low, high)
            }
            high.removeLast()
        }
        return (low, nil)
    }

    public func body(id: String) throws -> [UInt8]? {
        try withDatabase { database in
            try database.withStatement(
                "SELECT b.body FROM deliveries AS d JOIN delivery_bodies AS b ON b.seq = d.seq WHERE d.id = ?1"
            ) { statement in
                try DeliveryIDColumn.bind(id, to: statement, at: 1)
                return try statement.step() ? statement.bytes(at: 0) : nil
            }
        }
    }
}
