/// How many input lines the next batch takes, so that a batch plans about a fixed number of output
/// bytes (deliveries, or dry-run text) as well as at most a fixed number of lines.
///
/// One event may fan out to thousands of deliveries: a batch sized by lines alone holds
/// pipelines × lines deliveries at once, so memory grew with the number of pipelines. Sizing it
/// by the bytes planned per line so far keeps what a batch holds near ``targetBytes`` whatever
/// the fan-out.
struct BatchSizer {
    /// Lines per batch at most.
    let maxLines: Int
    /// Planned bytes one batch should hold, about.
    let targetBytes: Int
    /// Lines and planned bytes of the batches finished so far.
    private(set) var linesSeen = 0
    private(set) var bytesSeen = 0

    /// Lines in a batch before any has finished: one, since nothing is known yet about the
    /// fan-out. At 10,000 pipelines one line plans some 2 MB; a first batch of 16 lines held 32 MB,
    /// and a dry run's workers held four such batches before the first finished.
    static let firstBatchLines = 1

    init(maxLines: Int, targetBytes: Int) {
        self.maxLines = max(1, maxLines)
        self.targetBytes = max(1, targetBytes)
    }

    /// Lines for the next batch: as many as fit ``targetBytes`` at the bytes per line seen so
    /// far, from 1 to ``maxLines``.
    var nextLines: Int {
        guard linesSeen > 0 else { return min(Self.firstBatchLines, maxLines) }
        let perLine = max(1, bytesSeen / linesSeen)
        return max(1, min(maxLines, targetBytes / perLine))
    }

    /// How many batches may be planned at once, out of `depth` workers: `depth` while a batch
    /// holds about ``targetBytes``, fewer when one line alone plans more than that (a batch is
    /// never cut below a line), so that batches in flight hold about `depth` × ``targetBytes``
    /// together whatever the fan-out; one until a batch has finished, since the first batch's
    /// size is a guess.
    func batchesInFlight(depth: Int) -> Int {
        guard linesSeen > 0 else { return 1 }
        let batchBytes = max(1, nextLines * max(1, bytesSeen / linesSeen))
        return max(1, min(depth, depth * targetBytes / batchBytes))
    }

    /// Notes a finished batch of `lines` input lines that planned `bytes` bytes.
    mutating func record(lines: Int, bytes: Int) {
        linesSeen += lines
        bytesSeen += bytes
    }
}
