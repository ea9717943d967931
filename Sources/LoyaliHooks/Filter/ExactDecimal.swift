/// A number read from its decimal text and compared exactly, never through `Double`.
///
/// `filter.where` compares event numbers with the literals written in the pipeline file. Through
/// `Double`, `0.1 + 0.2`-style surprises and the 2^53 limit make `9007199254740993 > 9007199254740992`
/// false; here the value is its significant digits and a power of ten, so every JSON number
/// compares as the decimal it spells: `1e12 == 1000000000000`, `0.10 == 0.1`, `-0 == 0`.
struct ExactDecimal: Sendable, Hashable, Comparable {
    /// True below zero (never for zero itself).
    let negative: Bool
    /// The significant digits (0–9), without leading or trailing zeros; empty for zero.
    let digits: [UInt8]
    /// The value is `0.d₁d₂d₃… × 10^exponent`, so a longer integer part means a larger exponent.
    let exponent: Int

    /// Exponents are kept within ±2^60: a literal such as `1e99999999999999999999` saturates
    /// instead of overflowing (numbers that large are only ever compared with one another).
    static let exponentLimit = 1 << 60

    /// Reads JSON number grammar (`-`? digits (`.` digits)? ([eE] [+-]? digits)?); `nil` for
    /// anything else.
    init?(_ text: some StringProtocol) {
        var bytes = text.utf8.makeIterator()
        var next = bytes.next()
        var negative = false
        if next == UInt8(ascii: "-") {
            negative = true
            next = bytes.next()
        }
        var mantissa: [UInt8] = []
        var integerDigits = 0
        while let byte = next, Self.isDigit(byte) {
            mantissa.append(byte &- UInt8(ascii: "0"))
            integerDigits += 1
            next = bytes.next()
        }
        guard integerDigits > 0 else { return nil }
        if next == UInt8(ascii: ".") {
            next = bytes.next()
            let before = mantissa.count
            while let byte = next, Self.isDigit(byte) {
                mantissa.append(byte &- UInt8(ascii: "0"))
                next = bytes.next()
            }
            guard mantissa.count > before else { return nil }
        }
        var written = 0
        if next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            next = bytes.next()
            var exponentNegative = false
            if next == UInt8(ascii: "+") || next == UInt8(ascii: "-") {
                exponentNegative = next == UInt8(ascii: "-")
                next = bytes.next()
            }
            var sawDigit = false
            while let byte = next, Self.isDigit(byte) {
                sawDigit = true
                written = written > Self.exponentLimit / 10 ? Self.exponentLimit : min(Self.exponentLimit, written * 10 + Int(byte &- UInt8(ascii: "0")))
                next = bytes.next()
            }
            guard sawDigit else { return nil }
            if exponentNegative { written = -written }
        }
        guard next == nil else { return nil }
        let leadingZeros = mantissa.prefix { $0 == 0 }.count
        guard leadingZeros < mantissa.count else {
            self.init(negative: false, digits: [], exponent: 0)
            return
        }
        let trailingZeros = mantissa.reversed().prefix { $0 == 0 }.count
        self.init(
            negative: negative, digits: Array(mantissa[leadingZeros..<(mantissa.count - trailingZeros)]),
            exponent: written + integerDigits - leadingZeros)
    }

    private init(negative: Bool, digits: [UInt8], exponent: Int) {
        self.negative = negative
        self.digits = digits
        self.exponent = exponent
    }

    /// Whether the value is zero.
    var isZero: Bool { digits.isEmpty }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func < (a: ExactDecimal, b: ExactDecimal) -> Bool {
        if a.negative != b.negative { return a.negative }
        // Same sign: compare magnitudes, reversed below zero.
        return a.negative ? magnitudeLess(b, a) : magnitudeLess(a, b)
    }

    /// Whether `|a| < |b|`.
    private static func magnitudeLess(_ a: ExactDecimal, _ b: ExactDecimal) -> Bool {
        if a.isZero || b.isZero { return a.isZero && !b.isZero }
        if a.exponent != b.exponent { return a.exponent < b.exponent }
        // Same exponent: digit by digit; a prefix is smaller (trailing zeros were stripped).
        return a.digits.lexicographicallyPrecedes(b.digits)
    }
}
