/// How a delivery id is stored in the `id` column.
///
/// A canonical id (`whd_` + 32 lowercase hex digits, as `DeliveryID` makes them) is stored as its
/// 16 raw bytes, a BLOB; anything else as TEXT. The mapping is one-to-one (BLOBs and TEXT never
/// compare equal in SQLite), so uniqueness is unchanged. Why bother: ids are hashes, so each new
/// one lands at a random place in the unique index, and every batch writes one index page per
/// row once the outbox is large. Half-size keys mean half as many pages to write and to cache.
enum DeliveryIDColumn {
    /// Binds `id` to parameter `index` in its stored form.
    static func bind(_ id: String, to statement: SQLiteStatement, at index: Int) throws {
        if let raw = compact(id) {
            try statement.bind(bytes: raw, at: index)
        } else {
            try statement.bind(id, at: index)
        }
    }

    /// Reads the id in column `index` back as the caller knows it.
    static func read(from statement: SQLiteStatement, at index: Int) -> String {
        guard statement.isBlob(at: index) else { return statement.string(at: index) }
        return "whd_" + Hex.encode(statement.bytes(at: index))
    }

    /// The 16 bytes behind a canonical id, or `nil` for any other string.
    ///
    /// Reads the id's UTF-8 in place, one pass: every stored delivery binds its id through here,
    /// and the generic `starts(with:)`, `contains` and `Hex.decode` over a Substring's views cost
    /// ~3.8k instructions per id.
    static func compact(_ id: String) -> [UInt8]? {
        var id = id
        return id.withUTF8 { utf8 -> [UInt8]? in
            guard utf8.count == 36, utf8[0] == UInt8(ascii: "w"), utf8[1] == UInt8(ascii: "h"), utf8[2] == UInt8(ascii: "d"),
                utf8[3] == UInt8(ascii: "_")
            else { return nil }
            var raw = [UInt8](repeating: 0, count: 16)
            for i in 0..<16 {
                // Lower case only: "whd_AB…" is a different id from "whd_ab…" and must stay TEXT.
                guard let high = lowerHexValue(utf8[4 + 2 * i]), let low = lowerHexValue(utf8[5 + 2 * i]) else { return nil }
                raw[i] = high << 4 | low
            }
            return raw
        }
    }

    /// The value of a digit of `0-9a-f`, or `nil`.
    private static func lowerHexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
