/// Word-at-a-time (SWAR) checks over eight bytes of a JSON string, so that runs of ordinary
/// characters are skipped eight at a time by both the parser and the serializer.
///
/// Each function returns a word whose high bit is set in every flagged byte lane. Lanes above
/// the first flagged one can be false positives (a borrow carries into them), but the lowest
/// flagged lane is always exact, which is all the callers use: `trailingZeroBitCount / 8` is the
/// index of the first byte that needs attention.
enum JSONWord {
    @inline(__always) static var ones: UInt64 { 0x0101_0101_0101_0101 }
    @inline(__always) static var highBits: UInt64 { 0x8080_8080_8080_8080 }

    /// Eight bytes starting at `pointer`, first byte in the lowest lane whatever the platform.
    @inline(__always)
    static func load(_ pointer: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(pointer).loadUnaligned(as: UInt64.self))
    }

    /// The `count` (< 8) bytes at `pointer` in the lowest lanes, zero-padded, without reading
    /// past them. Two overlapping loads instead of a byte loop: short keys are the common case.
    @inline(__always)
    static func load(_ pointer: UnsafePointer<UInt8>, count: Int) -> UInt64 {
        let raw = UnsafeRawPointer(pointer)
        if count >= 4 {
            let low = UInt64(UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self)))
            let tail = (raw + (count &- 4)).loadUnaligned(as: UInt32.self)
            let high = UInt64(UInt32(littleEndian: tail))
            return low | high &<< UInt64((count &- 4) &* 8)
        }
        if count >= 2 {
            let low = UInt64(UInt16(littleEndian: raw.loadUnaligned(as: UInt16.self)))
            let tail = (raw + (count &- 2)).loadUnaligned(as: UInt16.self)
            let high = UInt64(UInt16(littleEndian: tail))
            return low | high &<< UInt64((count &- 2) &* 8)
        }
        return count == 1 ? UInt64(pointer.pointee) : 0
    }

    /// Lanes that equal `byte`.
    @inline(__always)
    static func equal(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        let x = word ^ (ones &* UInt64(byte))
        return (x &- ones) & ~x & highBits
    }

    /// Lanes below 0x20 (control characters).
    @inline(__always)
    static func control(_ word: UInt64) -> UInt64 {
        (word &- ones &* 0x20) & ~word & highBits
    }

    /// Lanes a serializer must escape: `"`, `\` and control characters.
    @inline(__always)
    static func needsEscape(_ word: UInt64) -> UInt64 {
        control(word) | equal(word, 0x22) | equal(word, 0x5C)
    }

    /// Lanes the parser must look at: those needing escape plus any non-ASCII byte, whose UTF-8
    /// must be validated.
    @inline(__always)
    static func parserSpecial(_ word: UInt64) -> UInt64 {
        needsEscape(word) | (word & highBits)
    }
}
