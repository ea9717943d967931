#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLibFuzzer

/// What libFuzzer calls once per input: the bytes and their count; returns 0.
public typealias FuzzTest = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

/// Hands the process's arguments to libFuzzer and fuzzes `test` until a crash, `-runs` or
/// `-max_total_time` stops it. SwiftPM gives each executable its own `main`, so libFuzzer's
/// `main` is never linked in and this driver call replaces it.
public func runFuzzer(_ test: FuzzTest) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, test))
}

/// libFuzzer's input as a buffer; an empty input may come with a null pointer.
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeBufferPointer<UInt8> {
    guard let data, size > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
    return UnsafeBufferPointer(start: data, count: size)
}

/// Stops with a message when a property the target checks does not hold. `abort()` raises
/// SIGABRT, which libFuzzer reports as a crash and saves the input as `crash-<sha1>`.
public func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    fail(message())
}

/// Reports a broken property and aborts, so libFuzzer saves the input.
public func fail(_ message: String) -> Never {
    let text = "FUZZ PROPERTY FAILED: \(message)\n"
    _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    abort()
}
