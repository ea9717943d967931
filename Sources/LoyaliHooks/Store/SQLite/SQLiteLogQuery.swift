/// The delivery log's statements on SQLite (``DeliveryStore/page(_:search:untilMs:before:)``):
/// which index a page reads and the SQL that reads it.
///
/// The log is sorted by (`updated_at`, `seq`), newest first, so a time window and the keyset
/// cursor are both a range of that order. Every page reads one of these, chosen here rather than
/// by SQLite's planner (real stores have no `ANALYZE` statistics):
///
/// - **ordered**: an index sorted by (`updated_at`, `seq`) that holds every filter column, read
///   backwards from the cursor or the window's end; each filter is checked in the index entry,
///   and the scan stops when the page is full. `deliveries_by_update` holds every row,
///   `deliveries_failed_by_update` only the failed ones.
/// - **sorted**: a partial index of one of the transient statuses (pending and retrying in
///   `deliveries_due_by_sink`, in flight in `deliveries_in_flight`), read whole and sorted. Used
///   when a probe of that index finds fewer than ``sortCap`` entries, the usual case, since
///   such rows leave it within seconds; a backlog larger than that is read in order instead.
/// - **search**: the rows whose event id is the search text or whose delivery id starts with it
///   (at least ``narrowPrefixDigits`` hex digits), found through their own indexes and sorted.
///   A shorter id prefix is read this way too when a probe of the id index finds fewer than
///   ``searchCap`` ids in its range; past that it filters an ordered read instead. The ordered
///   read checks each row's id in the table, and with a status filter whose rows are rare (a
///   waiting one) it passed hundreds of thousands of entries for a page at 1M rows.
///
/// `DeliveryStoreTests` runs EXPLAIN QUERY PLAN on every combination of filters to keep it so.
struct SQLiteLogQuery {
    /// How a page is read (see the type's notes).
    enum Access: Equatable, CustomStringConvertible {
        case ordered(index: String)
        case sorted(index: String)
        case search

        var description: String {
            switch self {
            case .ordered(let index): "ordered by \(index)"
            case .sorted(let index): "sorted from \(index)"
            case .search: "search"
            }
        }
    }

    /// A value bound to a numbered parameter.
    enum Value: Equatable {
        case text(String)
        case integer(Int64)
        case blob([UInt8])
    }

    /// SQL and the values of its parameters ?1, ?2, … in order.
    struct Statement: Equatable {
        var sql: String
        var values: [Value]

        func bind(to statement: SQLiteStatement) throws {
            for (offset, value) in values.enumerated() {
                switch value {
                case .text(let text): try statement.bind(text, at: offset + 1)
                case .integer(let number): try statement.bind(number, at: offset + 1)
                case .blob(let bytes): try statement.bind(bytes: bytes, at: offset + 1)
                }
            }
        }
    }

    /// Below this many matching rows in a transient status's own index, reading them all and
    /// sorting is cheaper than an ordered read that may pass many rows of other statuses.
    static let sortCap = 2_000
    /// A delivery-id prefix with this many hex digits or more matches at most 1/4096 of the ids.
    static let narrowPrefixDigits = 3
    /// Below this many ids in a shorter prefix's range, reading them by rowid and sorting them is
    /// bounded work (milliseconds), whatever the other filters match.
    static let searchCap = 8_000

    let filter: DeliveryQuery
    let search: String?
    let untilMs: Int64?
    let before: DeliveryLogCursor?

    /// The page size.
    var size: Int { max(1, min(filter.limit, 10_000)) }

    /// The search text, when there is one.
    private var searchText: String? { search.flatMap { $0.isEmpty ? nil : $0 } }

    /// Whether the search finds its few rows through the id and event-id indexes.
    var isNarrowSearch: Bool {
        guard let text = searchText else { return false }
        guard text.hasPrefix("whd_"), SQLiteDeliveryStore.idRange(prefix: text) != nil else { return true }
        return text.utf8.count - 4 >= Self.narrowPrefixDigits
    }

    /// The partial index that holds only rows of the filter's status, for a transient status.
    private var transientIndex: String? {
        switch filter.status {
        case .pending?, .retrying?: "deliveries_due_by_sink"
        case .inFlight?: "deliveries_in_flight"
        default: nil
        }
    }

    /// The access a page takes before any probe: a search, the failed rows' index, or the index
    /// of every row. Transient statuses start here too, then ``probe`` decides.
    var orderedAccess: Access {
        if isNarrowSearch { return .search }
        return .ordered(index: filter.status == .failed ? "deliveries_failed_by_update" : "deliveries_by_update")
    }

    /// The sorted access a probe may pick instead of ``orderedAccess``.
    var sortedAccess: Access? {
        guard !isNarrowSearch, let index = transientIndex else { return nil }
        return .sorted(index: index)
    }

    /// Counts the entries ``sortedAccess`` would read, up to ``sortCap``: fewer than that, and it
    /// is the access to take. Only the index's own terms count (its condition, and the pipeline and
    /// sink it is keyed by), so the probe never reads more than ``sortCap`` entries, whatever the
    /// other filters match. `nil` when there is no choice to make.
    var probe: Statement? {
        guard case .sorted(let index)? = sortedAccess else { return nil }
        var values: [Value] = []
        var terms = index == "deliveries_due_by_sink" ? ["status IN ('pending', 'retrying')"] : ["status = 'in_flight'"]
        if index == "deliveries_due_by_sink", let pipeline = filter.pipeline {
            values.append(.text(pipeline))
            terms.append("pipeline = ?\(values.count)")
            if let sink = filter.sink {
                values.append(.text(sink))
                terms.append("sink = ?\(values.count)")
            }
        }
        return Statement(
            sql: "SELECT count(*) FROM (SELECT 1 FROM deliveries INDEXED BY \(index) WHERE \(terms.joined(separator: " AND ")) LIMIT \(Self.sortCap))",
            values: values)
    }

    /// Counts the ids a short `whd_` prefix names, up to ``searchCap``: fewer than that, and
    /// ``Access/search`` is the access to take. `nil` for no search or a narrow one.
    var searchProbe: Statement? {
        guard let text = searchText, !isNarrowSearch, let (low, high) = SQLiteDeliveryStore.idRange(prefix: text) else { return nil }
        let range = "id >= ?1" + (high == nil ? "" : " AND id < ?2")
        return Statement(
            sql: "SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE \(range) LIMIT \(Self.searchCap))",
            values: [.blob(low)] + (high.map { [.blob($0)] } ?? []))
    }

    /// The page's SELECT for `access`: the summary columns, `seq` and the latest attempt's
    /// duration, one row more than the page so the caller knows whether there is a next page.
    func select(_ access: Access) -> Statement {
        var values: [Value] = []
        let columns = """
            \(SQLiteDeliveryStore.summaryColumns), seq,
                   (SELECT duration_ms FROM attempts WHERE delivery_seq = deliveries.seq AND attempt = deliveries.attempts)
            """
        let order = "ORDER BY updated_at DESC, seq DESC LIMIT \(size + 1)"
        switch access {
        case .ordered(let index), .sorted(let index):
            let terms = whereTerms(&values, index: index)
            return Statement(
                sql: "SELECT \(columns) FROM deliveries INDEXED BY \(index) WHERE \(terms.joined(separator: " AND ")) \(order)",
                values: values)
        case .search:
            // The candidates come from the two indexes by rowid; the filters are made unusable
            // for an index (unary +), so no other index can look cheaper to SQLite.
            var terms = whereTerms(&values, index: nil, unindexed: true)
            terms.append("seq IN (\(candidateSQL(&values)))")
            return Statement(sql: "SELECT \(columns) FROM deliveries WHERE \(terms.joined(separator: " AND ")) \(order)", values: values)
        }
    }

    /// The filter as SQL terms, adding their values to `values`. The status is a literal (from
    /// the enum, never user text) so SQLite can see that a query implies a partial index's
    /// condition, which for `index` is repeated word for word.
    private func whereTerms(_ values: inout [Value], index: String?, unindexed: Bool = false) -> [String] {
        func parameter(_ value: Value) -> String {
            values.append(value)
            return "?\(values.count)"
        }
        // `+column` keeps SQLite from reading the term through an index.
        let mark = unindexed ? "+" : ""
        var terms: [String] = []
        if let status = filter.status { terms.append("\(mark)status = '\(status.rawValue)'") }
        if index == "deliveries_due_by_sink" { terms.append("status IN ('pending', 'retrying')") }
        if let pipeline = filter.pipeline { terms.append("\(mark)pipeline = \(parameter(.text(pipeline)))") }
        if let sink = filter.sink { terms.append("\(mark)sink = \(parameter(.text(sink)))") }
        if let type = filter.eventType { terms.append("\(mark)event_type = \(parameter(.text(type)))") }
        if let since = filter.sinceMs { terms.append("\(mark)updated_at >= \(parameter(.integer(since)))") }
        if let untilMs { terms.append("\(mark)updated_at < \(parameter(.integer(untilMs)))") }
        if let before {
            // A row value: SQLite reads it as one range of an index on (updated_at, seq).
            terms.append(
                "(\(mark)updated_at, \(mark)seq) < (\(parameter(.integer(before.updatedAtMs))), \(parameter(.integer(before.sequence))))")
        }
        if index != nil, let text = searchText, !isNarrowSearch, let (low, high) = SQLiteDeliveryStore.idRange(prefix: text) {
            // A short id prefix read in order: checked on each row the read passes. (A search
            // access names its rows through the id index instead.)
            let range = "id >= \(parameter(.blob(low)))" + (high.map { " AND id < \(parameter(.blob($0)))" } ?? "")
            terms.append("(event_id = \(parameter(.text(text))) OR (\(range)))")
        }
        return terms.isEmpty ? ["1"] : terms
    }

    /// The rowids of the rows a narrow search names: by event id, and by delivery id (a range of
    /// the unique index for a `whd_` hex prefix, else the id as text).
    private func candidateSQL(_ values: inout [Value]) -> String {
        func parameter(_ value: Value) -> String {
            values.append(value)
            return "?\(values.count)"
        }
        let text = searchText ?? ""
        var parts = ["SELECT seq FROM deliveries WHERE event_id = \(parameter(.text(text)))"]
        if let (low, high) = SQLiteDeliveryStore.idRange(prefix: text) {
            parts.append(
                "SELECT seq FROM deliveries WHERE id >= \(parameter(.blob(low)))" + (high.map { " AND id < \(parameter(.blob($0)))" } ?? ""))
        } else {
            parts.append("SELECT seq FROM deliveries WHERE id = \(parameter(.text(text)))")
        }
        return parts.joined(separator: " UNION ALL ")
    }
}
