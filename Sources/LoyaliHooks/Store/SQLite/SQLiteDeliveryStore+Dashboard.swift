/// The dashboard's reads on SQLite: the cursor of the keyset-paged log is `seq` (enqueue order).
/// The charts read the maintained aggregates (`SQLiteDeliveryStore+Rollups.swift`).
extension SQLiteDeliveryStore {
    public func page(_ filter: DeliveryQuery, search: String?, untilMs: Int64?, before: Int64?) throws -> DeliveryLogPage {
        var terms: [String] = []
        var binds: [(Int, Bindable)] = []
        func add(_ sql: (Int) -> String, _ value: Bindable) {
            let index = binds.count + 1
            terms.append(sql(index))
            binds.append((index, value))
        }
        if let status = filter.status { terms.append("status = '\(status.rawValue)'") }
        if let pipeline = filter.pipeline { add({ "pipeline = ?\($0)" }, .text(pipeline)) }
        if let sink = filter.sink { add({ "sink = ?\($0)" }, .text(sink)) }
        if let type = filter.eventType { add({ "event_type = ?\($0)" }, .text(type)) }
        if let since = filter.sinceMs { add({ "updated_at >= ?\($0)" }, .integer(since)) }
        if let untilMs { add({ "updated_at < ?\($0)" }, .integer(untilMs)) }
        if let before { add({ "seq < ?\($0)" }, .integer(before)) }
        if let search, !search.isEmpty {
            // A delivery id, whole or a prefix (a range on the unique index), or an event id.
            let index = binds.count + 1
            var alternatives = ["event_id = ?\(index)"]
            binds.append((index, .text(search)))
            if let (low, high) = Self.idRange(prefix: search) {
                alternatives.append("(id >= ?\(index + 1)\(high == nil ? "" : " AND id < ?\(index + 2)"))")
                binds.append((index + 1, .blob(low)))
                if let high { binds.append((index + 2, .blob(high))) }
            } else {
                alternatives.append("id = ?\(index)")
            }
            terms.append("(" + alternatives.joined(separator: " OR ") + ")")
        }
        let size = max(1, min(filter.limit, 10_000))
        // Deliveries not yet succeeded are few: read them from their partial index and sort,
        // rather than walk the whole outbox backwards looking for them (when none matches, that
        // walk reads every row). The waiting ones' index is used only by a query that repeats its
        // condition word for word.
        let index: String
        switch filter.status {
        case .failed?: index = "INDEXED BY deliveries_failed"
        case .inFlight?: index = "INDEXED BY deliveries_in_flight"
        case .pending?, .retrying?:
            index = "INDEXED BY deliveries_due_by_sink"
            terms.append("status IN ('pending', 'retrying')")
        case .succeeded?, nil: index = ""
        }
        let sql = """
            SELECT \(Self.summaryColumns), seq,
                   (SELECT duration_ms FROM attempts WHERE delivery_seq = deliveries.seq AND attempt = deliveries.attempts)
            FROM deliveries \(index)
            \(terms.isEmpty ? "" : "WHERE " + terms.joined(separator: " AND "))
            ORDER BY seq DESC LIMIT \(size + 1)
            """
        return try withDatabase { database in
            try database.withStatement(sql) { statement in
                for (index, value) in binds {
                    switch value {
                    case .text(let text): try statement.bind(text, at: index)
                    case .integer(let number): try statement.bind(number, at: index)
                    case .blob(let bytes): try statement.bind(bytes: bytes, at: index)
                    }
                }
                var rows: [DeliverySummary] = []
                var sequences: [Int64] = []
                var durations: [Int64?] = []
                while try statement.step() {
                    rows.append(Self.summary(from: statement))
                    sequences.append(statement.int64(at: 12))
                    durations.append(statement.optionalInt64(at: 13))
                }
                guard rows.count > size else { return DeliveryLogPage(rows: rows, next: nil, lastDurationsMs: durations) }
                return DeliveryLogPage(rows: Array(rows.prefix(size)), next: sequences[size - 1], lastDurationsMs: Array(durations.prefix(size)))
            }
        }
    }

    private enum Bindable {
        case text(String)
        case integer(Int64)
        case blob([UInt8])
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
