/// How a delivery id is stored in the `id` column.
///
/// A canonical id (`whd_` + 32 lowercase hex digits, as `DeliveryID` makes them) is stored as its
/// 16 raw bytes, a BLOB; anything else as TEXT. The mapping is one-to-one (BLOBs and TEXT never
/// compare equal in SQLite), so uniqueness is unchanged. Why bother: ids are hashes, so each new
/// one lands at a random place in the unique index, and every batch writes one index page per
/// row once the outbox is large. Half-size keys mean half as many pages to write and to cache.
enum DeliveryIDColumn {
    private static let prefix = Array("whd_".utf8)

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
    static func compact(_ id: String) -> [UInt8]? {
        let utf8 = id.utf8
        guard utf8.count == prefix.count + 32, utf8.starts(with: prefix) else { return nil }
        let digits = utf8.dropFirst(prefix.count)
        // Lower case only: "whd_AB…" is a different id from "whd_ab…" and must stay TEXT.
        guard !digits.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0) }) else { return nil }
        return Hex.decode(Substring(digits))
    }
}
