/// ASCII bytes the JSON grammar cares about, named for the reader's comparisons.
enum JSONByte {
    @inline(__always) static var quote: UInt8 { 0x22 }  // "
    @inline(__always) static var backslash: UInt8 { 0x5C }  // \
    @inline(__always) static var comma: UInt8 { 0x2C }  // ,
    @inline(__always) static var colon: UInt8 { 0x3A }  // :
    @inline(__always) static var openBracket: UInt8 { 0x5B }  // [
    @inline(__always) static var closeBracket: UInt8 { 0x5D }  // ]
    @inline(__always) static var openBrace: UInt8 { 0x7B }  // {
    @inline(__always) static var closeBrace: UInt8 { 0x7D }  // }
    @inline(__always) static var minus: UInt8 { 0x2D }  // -
    @inline(__always) static var plus: UInt8 { 0x2B }  // +
    @inline(__always) static var dot: UInt8 { 0x2E }  // .
    @inline(__always) static var zero: UInt8 { 0x30 }  // 0
    @inline(__always) static var nine: UInt8 { 0x39 }  // 9
    @inline(__always) static var lowerE: UInt8 { 0x65 }  // e
}
