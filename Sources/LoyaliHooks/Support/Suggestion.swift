/// "Did you mean" suggestions for misspelt names (event types, config keys, sink types).
///
/// Distance is the optimal-string-alignment variant of Damerau–Levenshtein: insertions,
/// deletions, substitutions and swaps of two adjacent characters each cost 1, because a swapped
/// pair (`reedmption`) is as common a typo as a missing letter. Comparison ignores case.
public enum Suggestion {
    /// The candidate closest to `word`, or `nil` when none is close enough.
    ///
    /// - Parameters:
    ///   - word: what the user wrote.
    ///   - candidates: the valid names; on a tie the earliest wins, so pass them in a stable order.
    ///   - maxDistance: the largest edit distance still worth suggesting. By default it is
    ///     `max(1, word.count / 3)`: one typo in a short word, proportionally more in a long
    ///     dotted name, and never a suggestion that shares almost nothing with the input.
    public static func closest(
        to word: String, in candidates: some Sequence<String>, maxDistance: Int? = nil
    ) -> String? {
        let target = Array(word.lowercased())
        let limit = maxDistance ?? max(1, target.count / 3)
        guard limit >= 0 else { return nil }
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let other = Array(candidate.lowercased())
            // The length gap alone is a lower bound on the distance, so skip the table for those.
            if abs(other.count - target.count) > limit { continue }
            let d = distance(target, other)
            if d <= limit, d < (best?.distance ?? .max) {
                best = (candidate, d)
            }
        }
        return best?.name
    }

    /// `"; did you mean 'x'?"` when a candidate is close to `word`, else `""`, ready to append
    /// to an error message.
    public static func didYouMean(_ word: String, in candidates: some Sequence<String>) -> String {
        closest(to: word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// Optimal-string-alignment distance between two character arrays.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        let width = b.count + 1
        // Three rolling rows: the swap rule looks two rows back.
        var previous2 = [Int](repeating: 0, count: width)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: width)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, previous2[j - 2] + 1)
                }
                current[j] = value
            }
            swap(&previous2, &previous)
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
