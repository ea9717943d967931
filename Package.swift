// swift-tools-version:6.0
import PackageDescription

// No Swift package dependencies (the design card says `packages: none`); C libraries come in as
// system-library targets whose Debian -dev packages `make setup` installs.
let package = Package(
    name: "loyali-hooks",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "loyali-hooks", targets: ["loyali-hooks"]),
        .library(name: "LoyaliHooks", targets: ["LoyaliHooks"]),
    ],
    targets: [
        .systemLibrary(
            name: "CYaml", pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]),
        .systemLibrary(
            name: "CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        .systemLibrary(
            name: "CMicroHTTPD", pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"]), .brew(["libmicrohttpd"])]),
        .systemLibrary(
            name: "CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),
        .target(
            name: "LoyaliHooks",
            dependencies: ["CYaml", "CCrypto", "CSQLite", "CCurl", "CMicroHTTPD", "CLibPQ"]),
        .executableTarget(
            name: "loyali-hooks",
            dependencies: ["LoyaliHooks"]),
        .testTarget(
            name: "LoyaliHooksTests",
            dependencies: ["LoyaliHooks"]),
    ],
    swiftLanguageModes: [.v6]
)
