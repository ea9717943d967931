/// Attempt durations counted in fixed, log-spaced buckets, so the latency percentiles of any
/// window come from bucket counts that the stores keep up to date (see ``RollupCounts``), never
/// from a pass over the attempts themselves.
///
/// **Buckets.** Durations of 0…31 ms each have their own bucket (exact). Above, every power of
/// two [2^e, 2^(e+1)) is cut into 16 equal buckets of width 2^(e−4): 32–33, 34–35, …, 62–63,
/// 64–67, …, 992–1023, 1024–1087, … A percentile is the nearest-rank bucket's representative
/// value, the lower middle integer of the bucket (`lower + (width − 1) / 2`).
///
/// **Error bound.** A reported percentile is within 1/32 (3.125%) of the true nearest-rank
/// value, and exact below 32 ms: the true value v lies in the same bucket as the representative,
/// at most width/2 = 2^(e−5) away, and v ≥ 2^e.
///
/// **Stored form.** Text, `index:count` pairs joined by commas in ascending index order
/// (`"3:2,40:7"`), empty for no attempts: readable in a database shell, and both engines can
/// build and merge it in SQL (see `RollupSQL`). Counts may be negative in a change that undoes
/// another; a merged bucket that reaches 0 is dropped.
struct LatencyHistogram: Sendable, Equatable {
    /// The buckets that were ever counted in, ascending by index (a count may have come back to
    /// 0). Sparse: a store write keeps one histogram per sink and minute it touches, and a dense
    /// array up to a 500 ms bucket is 600 bytes; with 10,000 sinks that was 13 MB per write.
    private var buckets: [Bucket] = []

    private struct Bucket: Sendable {
        var index: Int32
        var count: Int64
    }

    /// How many durations below 2^5 ms have a bucket each, and how many buckets split each power
    /// of two above: the two constants of the error bound.
    static let exactBelow: Int64 = 32
    static let subBuckets: Int64 = 16

    /// An empty histogram.
    init() {}

    /// The bucket of a duration in ms (negative durations count as 0).
    static func bucket(of durationMs: Int64) -> Int {
        let value = max(0, durationMs)
        guard value >= exactBelow else { return Int(value) }
        let exponent = Int64(63 - value.leadingZeroBitCount)  // ≥ 5
        let sub = (value >> (exponent - 4)) - subBuckets  // 0…15
        return Int(exactBelow + (exponent - 5) * subBuckets + sub)
    }

    /// The value a percentile in bucket `index` reports: the lower middle integer of the bucket.
    static func representative(of index: Int) -> Int64 {
        let index = Int64(index)
        guard index >= exactBelow else { return index }
        let exponent = 5 + (index - exactBelow) / subBuckets
        let sub = (index - exactBelow) % subBuckets
        let width: Int64 = 1 << (exponent - 4)
        let lower = (subBuckets + sub) * width
        return lower + (width - 1) / 2
    }

    /// Equal when every bucket holds the same count (buckets back at 0 count as missing).
    static func == (a: LatencyHistogram, b: LatencyHistogram) -> Bool {
        a.buckets.lazy.filter { $0.count != 0 }.map { [Int64($0.index), $0.count] }
            .elementsEqual(b.buckets.lazy.filter { $0.count != 0 }.map { [Int64($0.index), $0.count] })
    }

    /// Buckets held (some may have come back to 0); for tests.
    var storedBuckets: Int { buckets.count }

    /// The total count.
    var total: Int64 { buckets.reduce(0) { $0 + $1.count } }

    /// Whether no bucket holds anything.
    var isEmpty: Bool { buckets.allSatisfy { $0.count == 0 } }

    /// Counts one duration.
    mutating func add(durationMs: Int64, count: Int64 = 1) {
        add(bucket: Self.bucket(of: durationMs), count: count)
    }

    /// Adds `count` to bucket `index`.
    mutating func add(bucket index: Int, count: Int64) {
        let index = Int32(clamping: index)
        // Durations mostly fall in the same few buckets, often the last one.
        if let last = buckets.last, last.index <= index {
            if last.index == index {
                buckets[buckets.count - 1].count += count
            } else {
                buckets.append(Bucket(index: index, count: count))
            }
            return
        }
        var low = 0
        var high = buckets.count
        while low < high {
            let middle = (low + high) / 2
            if buckets[middle].index < index { low = middle + 1 } else { high = middle }
        }
        if low < buckets.count, buckets[low].index == index {
            buckets[low].count += count
        } else {
            buckets.insert(Bucket(index: index, count: count), at: low)
        }
    }

    /// Adds every bucket of `other`.
    mutating func merge(_ other: LatencyHistogram) {
        for bucket in other.buckets where bucket.count != 0 { add(bucket: Int(bucket.index), count: bucket.count) }
    }

    /// Adds the buckets of a stored text (see the type's notes). Malformed pairs are skipped: the
    /// text is only ever written by the stores.
    mutating func merge(text: String) {
        var index: Int64 = 0
        var value: Int64 = 0
        var negative = false
        var readingCount = false
        func flush() {
            if readingCount, index >= 0, index < 4096 { add(bucket: Int(index), count: negative ? -value : value) }
            index = 0
            value = 0
            negative = false
            readingCount = false
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digit = Int64(byte - UInt8(ascii: "0"))
                if readingCount { value = value &* 10 &+ digit } else { index = index &* 10 &+ digit }
            case UInt8(ascii: ":"): readingCount = true
            case UInt8(ascii: "-"): negative = true
            case UInt8(ascii: ","): flush()
            default: break
            }
        }
        flush()
    }

    /// The stored text: `index:count` pairs, ascending, zero buckets left out.
    ///
    /// Written digit by digit into the string's own buffer: every write transaction of the SQLite
    /// store encodes its merged minute and hour rows, often a hundred buckets each, and a `String`
    /// per pair (interpolation, then `joined`) cost ~100k instructions per row, 8 times this.
    var text: String {
        let pairs = buckets.reduce(0) { $0 + ($1.count != 0 ? 1 : 0) }
        guard pairs > 0 else { return "" }
        // Per pair at most: the index and the count, 20 characters each with a sign, ':' and ','.
        return String(unsafeUninitializedCapacity: pairs * 42) { out in
            var end = 0
            for bucket in buckets where bucket.count != 0 {
                if end > 0 {
                    out[end] = UInt8(ascii: ",")
                    end += 1
                }
                Self.writeDecimal(Int64(bucket.index), to: out, at: &end)
                out[end] = UInt8(ascii: ":")
                end += 1
                Self.writeDecimal(bucket.count, to: out, at: &end)
            }
            return end
        }
    }

    /// Writes `value` in decimal (a leading `-` when negative) at `end` in `out`, and moves `end`
    /// past it.
    private static func writeDecimal(_ value: Int64, to out: UnsafeMutableBufferPointer<UInt8>, at end: inout Int) {
        if value < 0 {
            out[end] = UInt8(ascii: "-")
            end += 1
        }
        // The magnitude as unsigned: `Int64.min` has no positive counterpart. Digits are written
        // from the lowest, backwards from the number's last position.
        var magnitude = value.magnitude
        var width = 1
        var rest = magnitude / 10
        while rest > 0 {
            width += 1
            rest /= 10
        }
        var position = end + width - 1
        repeat {
            out[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
            position -= 1
        } while magnitude > 0
        end += width
    }

    /// The nearest-rank `percent` percentile (the representative of the bucket holding the value
    /// at 1-based rank ceil(percent/100 × n)), or `nil` with no attempts.
    func percentile(_ percent: Int) -> Int64? {
        let total = total
        guard total > 0 else { return nil }
        let rank = max(1, (Int64(percent) * total + 99) / 100)
        var seen: Int64 = 0
        for bucket in buckets where bucket.count > 0 {
            seen += bucket.count
            if seen >= rank { return Self.representative(of: Int(bucket.index)) }
        }
        return buckets.last { $0.count > 0 }.map { Self.representative(of: Int($0.index)) }
    }
}
