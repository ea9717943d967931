import Foundation

/// Reading sources into the outbox: each distinct source once, in batches whose deliveries and
/// source position are stored in one transaction; file sources resume from their checkpoint and,
/// when following, are watched for appended lines.
extension DeliveryRunner {

    /// How often a followed file is checked for appended lines.
    static let followIntervalMs: Int64 = 500

    func ingestAll() {
        var groupsVersion = layoutVersion.load(ordering: .acquiring)
        var groups = sourceGroups()
        let following = options.mode == .follow
        var finished = Set<String>()
        var storeFailing = false
        repeat {
            // A reconfiguration may have added, removed or moved file sources.
            let version = layoutVersion.load(ordering: .acquiring)
            if version != groupsVersion {
                groupsVersion = version
                groups = sourceGroups()
            }
            let decoder = InputEventDecoder(ingestTime: RFC3339.format(unixSeconds: clock.nowMs() / 1000))
            for group in groups where !finished.contains(group.identity) {
                guard !shouldStopReading else { return }
                do {
                    try ingest(group, decoder: decoder, following: following && group.followable)
                    storeFailing = false
                } catch where error is any StoreEngineError {
                    // The store cannot take the deliveries (disk full, I/O error): nothing read
                    // since the last checkpoint was acknowledged, so reading stops here.
                    if options.retriesStoreFailures && following && group.followable {
                        // serve: look again at the next interval; the checkpoint resumes it.
                        if !storeFailing {
                            logger.log(.error, "storing deliveries failed; reading paused until the store takes writes again", [
                                "source": group.identity, "error": "\(error)",
                            ])
                        }
                        storeFailing = true
                        continue
                    }
                    logger.log(.error, "storing deliveries failed; reading stopped", ["source": group.identity, "error": "\(error)"])
                    noteFailure("the deliveries of source \(group.identity) could not be stored, so reading stopped (nothing unstored was acknowledged): \(error)")
                    counters.withLock { $0.sourcesFailed += 1 }
                    if following, options.externalSourceKinds.isEmpty { nothingToFollow.store(true, ordering: .releasing) }
                    return
                } catch {
                    logger.log(.error, "source failed", ["source": group.identity, "error": "\(error)"])
                    noteFailure("source \(group.identity) failed: \(error)")
                    counters.withLock { $0.sourcesFailed += 1 }
                    finished.insert(group.identity)
                }
                // Only a pipeline's own files are followed; streams and --input are read once.
                if !group.followable { finished.insert(group.identity) }
            }
            // `serve` keeps looking even with nothing to follow: a reload may add a file source.
            guard following, finished.count < groups.count || !options.externalSourceKinds.isEmpty else {
                // Following, but nothing can be followed (stdin, --input -): the run then ends
                // once every delivery has settled, like --drain. `serve` feeds its runner from
                // outside, so it never ends this way.
                if following, options.externalSourceKinds.isEmpty { nothingToFollow.store(true, ordering: .releasing) }
                return
            }
            ingestPause.wait(until: Date(timeIntervalSinceNow: Double(Self.followIntervalMs) / 1000))
        } while !shouldStopReading
    }

    /// A stop or a retirement ends reading.
    var shouldStopReading: Bool {
        stopRequested.load(ordering: .relaxed) || retiring.load(ordering: .relaxed)
    }

    struct SourceGroup {
        var identity: String
        var stream: () throws(SourceError) -> InputStream
        /// Its read position is stored, so a restart resumes where the last batch ended.
        var checkpointed: Bool
        /// Watched for appended lines in follow mode (a pipeline's own file source).
        var followable: Bool
        var pipelines: [PipelineDefinition]
        /// The ``DeliveryRunner/layoutVersion`` the pipelines are from.
        var plannedVersion: Int
    }

    func sourceGroups() -> [SourceGroup] {
        let (pipelines, version) = layout.withLock { ($0.pipelines, $0.version) }
        if let input = options.input {
            // `--input FILE` resumes from its checkpoint; stdin is a new stream every run, so a
            // stored position would skip the start of different data.
            let resumable = if case .descriptor(let fd, _, let owned) = input { owned && lseek(fd, 0, SEEK_CUR) >= 0 } else { false }
            // Operational pipelines read only the runner's own events, never the input.
            return [SourceGroup(
                identity: "input:\(input.name)", stream: { input }, checkpointed: resumable, followable: false,
                pipelines: pipelines.filter { !OperationalRouting.isOperational($0) }, plannedVersion: version)]
        }
        var groups: [SourceGroup] = []
        // By identity: thousands of pipelines may read as many files.
        var groupIndex: [String: Int] = [:]
        // Operational pipelines are fed by the runner itself (DeliveryRunner+Operational.swift).
        for pipeline in pipelines where !options.externalSourceKinds.contains(pipeline.source.kind) && !OperationalRouting.isOperational(pipeline) {
            if let i = groupIndex[pipeline.source.identity] {
                groups[i].pipelines.append(pipeline)
            } else {
                groupIndex[pipeline.source.identity] = groups.count
                let source = pipeline.source
                groups.append(SourceGroup(
                    identity: source.identity, stream: { () throws(SourceError) in try source.open() },
                    checkpointed: source is FileSource, followable: source is FileSource, pipelines: [pipeline], plannedVersion: version))
            }
        }
        return groups
    }

    func ingest(_ group: SourceGroup, decoder: InputEventDecoder, following: Bool) throws {
        // On a database several nodes share, one node at a time reads a checkpointed source: the
        // holder of its lock. The others look again at each interval and take over if it stops.
        if group.checkpointed, let shared = store as? PostgresDeliveryStore {
            guard try shared.acquireSourceLock(group.identity) else {
                if sourcesReadElsewhere.insert(group.identity).inserted {
                    logger.log(.info, "another node reads this source; this node takes over if that one stops", ["source": group.identity])
                }
                return
            }
            if sourcesReadElsewhere.remove(group.identity) != nil {
                logger.log(.info, "this node reads the source now", ["source": group.identity])
            }
        }
        let stream = try group.stream()
        var startOffset: Int64 = 0
        var firstLine = 1
        if group.checkpointed, case .descriptor(let fd, _, _) = stream, let offset = try store.checkpoint(source: group.identity),
            offset <= Self.size(of: fd) ?? offset
        {
            if let known = resumePoints[group.identity], known.offset == offset {
                firstLine = known.line
            } else {
                firstLine = Self.lineNumber(atOffset: offset, fd: fd)
                logger.log(.info, "resuming source from checkpoint", ["source": group.identity, "offset": String(offset), "line": String(firstLine)])
            }
            lseek(fd, off_t(offset), SEEK_SET)
            startOffset = offset
        }
        let planners = group.pipelines.map(DeliveryPlanner.init(pipeline:))
        // Cut by planned bytes as well as lines: one event may fan out to thousands of sinks.
        var sizer = BatchSizer(maxLines: options.batchSize, targetBytes: options.batchBytes)
        var limit = sizer.nextLines
        var batch = LineBatch(capacity: limit)
        let flush = { (batch: LineBatch) throws in
            let planned = try self.commit(batch, planners: planners, group: group, decoder: decoder, source: stream.name)
            sizer.record(lines: batch.count, bytes: planned)
            if let last = batch.entries.last { self.resumePoints[group.identity] = (batch.endOffset, last.number + 1) }
        }
        let reader = LineReader(stream, firstLineNumber: firstLine, startOffset: startOffset, includesUnterminatedTail: !following)
        let laneIndex = layout.withLock { $0.laneIndex }
        let fed = group.pipelines.flatMap { pipeline in
            pipeline.sinks.compactMap { laneIndex[LaneKey(pipeline: pipeline.name, sink: $0.name)] }
        }
        var peers = PeerWatch(store: store)
        try reader.forEachLine { line in
            batch.append(line)
            if batch.count >= limit {
                // Read no faster than the fastest sink takes fresh deliveries (see HandOff); but
                // while other nodes work on the same database, this node's lanes take only what
                // they have room for and the rest waits in the store for any node to claim (the
                // commit's NOTIFY wakes them): paced by its own lanes, the reading node would
                // deliver alone while the others sat idle.
                if !peers.othersShareWork() { handOff.waitForRoom(fed: fed, batch: batch.count) { shouldStopReading } }
                try flush(batch)
                limit = sizer.nextLines
                batch = LineBatch(capacity: limit)
            }
            return !shouldStopReading
        }
        if batch.count > 0 { try flush(batch) }
    }

    /// Whether other nodes work on the store, asked at most once a second (a query of the
    /// database's sessions); `false` for a store only this node opens, or when the store cannot
    /// say.
    struct PeerWatch {
        let store: any DeliveryStore
        var checkedAt: Double = -.infinity
        var others = false

        init(store: any DeliveryStore) { self.store = store }

        mutating func othersShareWork() -> Bool {
            guard store.isShared else { return false }
            let now = ProcessInfo.processInfo.systemUptime
            if now - checkedAt >= 1 {
                checkedAt = now
                others = ((try? store.otherNodes()) ?? 0) > 0
            }
            return others
        }
    }

    /// Turns a batch into outbox rows and stores them with the source position in one transaction.
    /// Returns the bytes the rows held, about (see ``NewDelivery/footprint``).
    @discardableResult
    func commit(
        _ batch: LineBatch, planners: [DeliveryPlanner], group: SourceGroup, decoder: InputEventDecoder, source: String
    ) throws -> Int {
        var rows: [NewDelivery] = []
        var delta = Counters()
        var logs: [(Logger.Level, String, [(String, String)])] = []
        let nowMs = clock.nowMs()
        let createdAtMs = creationStampMs()
        // Decode the whole batch first, so each pipeline plans it at once.
        var envelopes: [EventEnvelope] = []
        envelopes.reserveCapacity(batch.count)
        batch.forEach { bytes, entry in
            if entry.isTooLong || InputRejection.isBlank(bytes) {
                if entry.isTooLong { reject(InputRejection(line: entry.number, reason: "line longer than \(LineReader.defaultMaxLineBytes) bytes"), raw: bytes, source: source, delta: &delta) }
                return
            }
            delta.eventsRead += 1
            do throws(InputRejection) {
                envelopes.append(try decoder.decode(bytes, number: entry.number))
            } catch {
                reject(error, raw: bytes, source: source, delta: &delta)
            }
        }
        Self.appendDeliveries(for: envelopes, planners: planners, createdAtMs: createdAtMs, to: &rows) { planner, envelope, failure in
            delta.transformFailures += 1
            delta.failed += planner.pipeline.sinks.count
            delta.failedByTransforms += planner.pipeline.sinks.count
            logs.append((.error, "transform failed", [
                ("pipeline", planner.pipeline.name), ("event", envelope.eventID), ("error", failure.description),
            ]))
        }
        for (level, message, fields) in logs { logger.log(level, message, fields: fields) }
        restamp(&rows, plannedVersion: group.plannedVersion)
        let checkpoint = group.checkpointed ? (source: group.identity, offset: batch.endOffset) : nil
        delta.enqueued = try storeAndHandOff(rows, checkpoint: checkpoint, nowMs: nowMs)
        counters.withLock { $0.add(delta) }
        wakeup.signal()
        return rows.reduce(0) { $0 + $1.footprint }
    }

    /// Stores `rows` (and `checkpoint`) in one transaction, those due at once with room in their
    /// lane already claimed, and hands those to their lanes. Returns how many rows were new.
    func storeAndHandOff(_ rows: [NewDelivery], checkpoint: (source: String, offset: Int64)?, nowMs: Int64) throws -> Int {
        var rows = rows
        // Rows a transform step failed tell the operational pipelines, in this transaction.
        let failureEvents = appendIngestFailureEvents(to: &rows, nowMs: nowMs)
        let chosen = inFlightRecovered.load(ordering: .acquiring) ? handOffRows(in: rows) : [:]
        let stored: (inserted: Int, claimed: [ClaimedDelivery])
        do {
            stored = try store.enqueue(rows, checkpoint: checkpoint, nowMs: nowMs, claiming: Set(chosen.keys))
        } catch {
            // Every source's, serve's ingest's and the operational events' writes come here.
            options.observer?.storeWriteFailed(operation: "enqueue")
            throw error
        }
        if failureEvents.eventsRead > 0 { counters.withLock { $0.add(failureEvents) } }
        leases?.hold(stored.claimed.map(\.id), confirmedAtMs: nowMs)
        if !stored.claimed.isEmpty {
            // Each to the lane chosen for it, even if a reconfiguration happened meanwhile: a
            // retired lane still sends what was made before its swap.
            var laneByID: [String: Int] = [:]
            for (row, lane) in chosen { laneByID[rows[row].id] = lane }
            handOff.push(stored.claimed.compactMap { delivery in laneByID[delivery.id].map { ($0, delivery) } })
        }
        // The lanes whose rows wait in the store must ask it again; the others need not.
        let laneIndex = layout.withLock { $0.laneIndex }
        var waiting = Set<Int>()
        for (index, row) in rows.enumerated() where row.planningFailure == nil && chosen[index] == nil {
            if let lane = laneIndex[LaneKey(pipeline: row.pipeline, sink: row.sink)] { waiting.insert(lane) }
        }
        if !waiting.isEmpty { storedLanes.withLock { $0.formUnion(waiting) } }
        return stored.inserted
    }

    /// The indexes of the `rows` that go straight to their lanes: those due at once whose lane is
    /// open and has room, while the hand-off's byte budget lasts. A lane that runs out of room is
    /// closed, and its later rows go to the store, so the lane reads them back in order.
    ///
    /// Returns each chosen row's index with its lane: the live lane of its sink, when that lane's
    /// window holds the row (a row made under a swapped pipeline's old definition goes to the
    /// store, where the old definition's lane claims it).
    func handOffRows(in rows: [NewDelivery]) -> [Int: Int] {
        let current = layout.withLock { $0 }
        var (room, bytes) = handOff.room()
        var chosen: [Int: Int] = [:]
        for (index, row) in rows.enumerated() where row.isDueAtOnce {
            guard let lane = current.lane(for: LaneKey(pipeline: row.pipeline, sink: row.sink), createdAtMs: row.createdAtMs),
                lane < room.count, let free = room[lane]
            else { continue }
            let footprint = row.footprint
            if free > 0, footprint <= bytes {
                room[lane] = free - 1
                bytes -= footprint
                chosen[index] = lane
            } else {
                room[lane] = nil
                handOff.close(lane)
            }
        }
        return chosen
    }

    func reject(_ rejection: InputRejection, raw: UnsafeBufferPointer<UInt8>, source: String, delta: inout Counters) {
        delta.rejected += 1
        logger.log(.warn, rejection.message(source: nil), ["source": source])
        try? rejects?.append(line: rejection.record(source: source, raw: raw))
    }

    /// The file's size; a checkpoint past it means the file was truncated or replaced, and is
    /// then read from the start (ids dedupe whatever was already delivered).
    static func size(of fd: Int32) -> Int64? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// Counts the newlines before `offset`, so line numbers stay true after a resume.
    static func lineNumber(atOffset offset: Int64, fd: Int32) -> Int {
        var count = 1
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var remaining = offset
        var position: Int64 = 0
        while remaining > 0 {
            let want = Int(min(Int64(buffer.count), remaining))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(position)) }
            guard n > 0 else { break }
            count += buffer[0..<n].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            remaining -= Int64(n)
            position += Int64(n)
        }
        return count
    }
}
