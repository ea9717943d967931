#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits an ``InputStream`` into lines without copying them: each line is handed out as a buffer
/// that is valid only during the callback. Reads 1 MiB at a time.
public final class LineReader {
    /// The longest line accepted; longer ones are reported as too long and skipped, so one runaway
    /// line cannot take the process's memory.
    public static let defaultMaxLineBytes = 16 << 20

    /// One line handed to the callback.
    public struct Line {
        /// The bytes without the trailing `\n` or `\r\n`.
        public var bytes: UnsafeBufferPointer<UInt8>
        /// 1-based line number.
        public var number: Int
        /// Byte offset just past this line's newline: where reading resumes after it.
        public var endOffset: Int64
        /// True when the line was longer than the cap and `bytes` is empty.
        public var isTooLong: Bool
    }

    private let stream: InputStream
    private let maxLineBytes: Int
    private let firstLineNumber: Int
    private let startOffset: Int64
    /// Whether a last line without a newline is handed out at end of input. A file that is still
    /// being written (followed) may hold half a line there, so followers leave it for next time.
    private let includesUnterminatedTail: Bool

    /// Reads `stream`. When resuming mid-file, `startOffset` is where the descriptor already
    /// points and `firstLineNumber` the number of the line starting there.
    public init(
        _ stream: InputStream, maxLineBytes: Int = LineReader.defaultMaxLineBytes, firstLineNumber: Int = 1,
        startOffset: Int64 = 0, includesUnterminatedTail: Bool = true
    ) {
        self.includesUnterminatedTail = includesUnterminatedTail
        self.stream = stream
        self.maxLineBytes = maxLineBytes
        self.firstLineNumber = firstLineNumber
        self.startOffset = startOffset
    }

    /// Calls `body` for each line until the end of input or until `body` returns `false`.
    public func forEachLine(_ body: (Line) throws -> Bool) throws {
        switch stream {
        case .bytes(let bytes, _):
            try bytes.withUnsafeBufferPointer { buffer in
                var state = SplitState(lineNumber: firstLineNumber - 1, consumedOffset: startOffset)
                _ = try split(buffer, state: &state, final: true, body)
            }
        case .descriptor(let fd, let name, let closeWhenDone):
            defer { if closeWhenDone { close(fd) } }
            try readDescriptor(fd, name: name, body)
        }
    }

    private struct SplitState {
        var lineNumber = 0
        var consumedOffset: Int64 = 0
        var skippingLongLine = false
    }

    private func readDescriptor(_ fd: Int32, name: String, _ body: (Line) throws -> Bool) throws {
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        var used = 0
        var state = SplitState(lineNumber: firstLineNumber - 1, consumedOffset: startOffset)
        while true {
            if buffer.count - used < chunk / 2 {
                // A line longer than the buffer: grow up to the cap, then start skipping it.
                if used >= maxLineBytes {
                    state.skippingLongLine = true
                    state.consumedOffset += Int64(used)
                    used = 0
                } else {
                    buffer.append(contentsOf: repeatElement(0, count: buffer.count))
                }
            }
            let n = buffer.withUnsafeMutableBytes { raw in
                read(fd, raw.baseAddress! + used, raw.count - used)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw SourceError(source: name, reason: SystemError.describe(errno))
            }
            let final = n == 0
            used += n
            let (consumed, keepGoing) = try buffer.withUnsafeBufferPointer { all in
                try split(UnsafeBufferPointer(rebasing: all[0..<used]), state: &state, final: final, body)
            }
            if !keepGoing || final { return }
            if consumed > 0 {
                buffer.withUnsafeMutableBufferPointer { b in
                    _ = memmove(b.baseAddress!, b.baseAddress! + consumed, used - consumed)
                }
                used -= consumed
            }
        }
    }

    /// Hands out every complete line in `buffer` (and the unterminated tail when `final`).
    /// Returns the bytes consumed and whether to continue.
    private func split(
        _ buffer: UnsafeBufferPointer<UInt8>, state: inout SplitState, final: Bool, _ body: (Line) throws -> Bool
    ) throws -> (Int, Bool) {
        var start = 0
        let base = buffer.baseAddress
        while start < buffer.count {
            let remaining = buffer.count - start
            guard let newline = memchr(base! + start, 0x0A, remaining) else { break }
            let end = UnsafePointer<UInt8>(newline.assumingMemoryBound(to: UInt8.self)) - base!
            let keepGoing = try emit(buffer, start: start, end: end, next: end + 1, state: &state, body)
            start = end + 1
            if !keepGoing { return (start, false) }
        }
        if final, includesUnterminatedTail, start < buffer.count {
            let keepGoing = try emit(buffer, start: start, end: buffer.count, next: buffer.count, state: &state, body)
            return (buffer.count, keepGoing)
        }
        return (start, true)
    }

    /// UTF-8's byte-order mark. Editors on some systems open files with it; it is an encoding
    /// marker, so it is skipped at the very start of a stream instead of spoiling the first line.
    public static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    private func emit(
        _ buffer: UnsafeBufferPointer<UInt8>, start: Int, end: Int, next: Int, state: inout SplitState,
        _ body: (Line) throws -> Bool
    ) throws -> Bool {
        var start = start
        let atStreamStart = state.consumedOffset == 0
        state.lineNumber += 1
        state.consumedOffset += Int64(next - start)
        if atStreamStart, UnsafeBufferPointer(rebasing: buffer[start..<end]).starts(with: Self.byteOrderMark) { start += 3 }
        var stop = end
        if stop > start, buffer[stop - 1] == 0x0D { stop -= 1 }
        let tooLong = state.skippingLongLine
        state.skippingLongLine = false
        let bytes = tooLong ? UnsafeBufferPointer(rebasing: buffer[start..<start]) : UnsafeBufferPointer(rebasing: buffer[start..<stop])
        return try body(Line(bytes: bytes, number: state.lineNumber, endOffset: state.consumedOffset, isTooLong: tooLong))
    }
}
