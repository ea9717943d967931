// swift-tools-version:6.0
import Foundation
import PackageDescription

// libFuzzer targets for loyali-hooks (docs/fuzzing.md). A package of its own so that the root
// package, its `swift build` and its `swift test` never see it; `make fuzz` builds it with
// `-Xswiftc -sanitize=fuzzer,address` (one flag: a second `-sanitize=` replaces the first).
//
// A path dependency's identity is the last component of its directory, which is `loyali-hooks`
// in a clean clone but the worktree's name elsewhere, so it is read from this file's location.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let rootIdentity = root.lastPathComponent.lowercased()

let targets = [
    "FuzzJSON", "FuzzEventDecoder", "FuzzPipelineLoader", "FuzzSignature", "FuzzRetryAfter", "FuzzDuration",
    "FuzzDryRun",
]

let package = Package(
    name: "loyali-hooks-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: "../..")],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver; the runtime itself comes with -sanitize=fuzzer.
        .target(name: "CLibFuzzer"),
        .target(
            name: "FuzzSupport",
            dependencies: ["CLibFuzzer", .product(name: "LoyaliHooks", package: rootIdentity)]),
    ] + targets.map { name in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport", .product(name: "LoyaliHooks", package: rootIdentity)])
    },
    swiftLanguageModes: [.v6]
)
