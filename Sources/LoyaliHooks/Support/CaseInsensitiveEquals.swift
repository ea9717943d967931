extension Sequence<UInt8> {
    /// ASCII case-insensitive equality of two byte sequences.
    func caseInsensitiveEquals(_ other: some Sequence<UInt8>) -> Bool {
        var mine = makeIterator()
        var theirs = other.makeIterator()
        while true {
            switch (mine.next(), theirs.next()) {
            case (nil, nil): return true
            case (let x?, let y?):
                guard x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z")) else { return false }
            default: return false
            }
        }
    }
}

extension StringProtocol {
    /// ASCII case-insensitive equality, for header names and auth schemes.
    func caseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        utf8.count == other.utf8.count && utf8.caseInsensitiveEquals(other.utf8)
    }
}
