#if canImport(Glibc)
import Glibc
#endif

/// Reads newline-terminated lines from a descriptor with blocking `read(2)`s, for a dedicated
/// thread (never Swift's cooperative pool).
struct DescriptorLines {
    /// What ended the stream.
    enum End: Equatable {
        /// EOF (or a read error, which means the same here: the other side is gone).
        case endOfFile
        /// A line grew past `maxLineBytes` without a newline.
        case lineTooLong
        /// The line handler asked to stop.
        case stopped
    }

    let descriptor: Int32
    /// The longest line accepted.
    let maxLineBytes: Int

    /// Calls `handle` with each line (without its `\n`, nor a `\r` before it) until EOF, a line
    /// that is too long, or `handle` returning `false`. A last line without a newline is
    /// delivered at EOF.
    func forEach(_ handle: (UnsafeBufferPointer<UInt8>) -> Bool) -> End {
        let chunkSize = 64 * 1024
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var filled = 0
        while true {
            if filled == buffer.count {
                guard buffer.count < maxLineBytes + 1 else { return .lineTooLong }
                buffer += [UInt8](repeating: 0, count: min(buffer.count, maxLineBytes + 1 - buffer.count))
            }
            let n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 {
                if filled > 0 {
                    let keepGoing = buffer.withUnsafeBufferPointer { handle(Self.trimmed(UnsafeBufferPointer(rebasing: $0[0..<filled]))) }
                    if !keepGoing { return .stopped }
                }
                return .endOfFile
            }
            let scanFrom = filled
            filled += n
            var stopped = false
            let consumed = buffer.withUnsafeBufferPointer { bytes -> Int in
                var lineStart = 0
                var index = scanFrom
                while index < filled {
                    let remaining = filled - index
                    guard let hit = memchr(bytes.baseAddress! + index, 0x0A, remaining) else { break }
                    let newline = bytes.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if !handle(Self.trimmed(UnsafeBufferPointer(rebasing: bytes[lineStart..<newline]))) {
                        stopped = true
                        return newline + 1
                    }
                    lineStart = newline + 1
                    index = lineStart
                }
                return lineStart
            }
            if stopped { return .stopped }
            if consumed > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    let base = raw.baseAddress!
                    memmove(base, base + consumed, filled - consumed)
                }
                filled -= consumed
            }
            if filled > maxLineBytes { return .lineTooLong }
        }
    }

    private static func trimmed(_ line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        if let last = line.last, last == 0x0D { return UnsafeBufferPointer(rebasing: line.dropLast()) }
        return line
    }
}
