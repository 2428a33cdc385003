// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for the parsers that read hostile bytes: one executable per parser, each
// defining LLVMFuzzerTestOneInput (libFuzzer supplies main). Built and run by scripts/fuzz.sh
// with `swift build -c release --sanitize=fuzzer -Xswiftc -enable-testing` (the targets reach
// internal parsers through @testable import). Seed inputs are in corpus/<target>/.
// The main package is `..`; SwiftPM names a path dependency after its directory, whatever the clone is called.
let main = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "main")

let fuzzers: [(product: String, target: String, path: String, dependencies: [Target.Dependency])] = [
    ("fuzz-tar", "FuzzTar", "Tar", [.product(name: "ImageCore", package: main)]),
    ("fuzz-reference", "FuzzReference", "Reference", [.product(name: "ImageCore", package: main)]),
    ("fuzz-manifest", "FuzzManifest", "Manifest", [.product(name: "ImageCore", package: main)]),
    ("fuzz-auth", "FuzzAuth", "AuthChallenge", [.product(name: "ImageCore", package: main)]),
    (
        "fuzz-spdy", "FuzzSPDY", "SPDY",
        [
            .product(name: "StreamingServer", package: main),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]
    ),
    (
        "fuzz-upgrade", "FuzzUpgrade", "Upgrade",
        [
            .product(name: "StreamingServer", package: main),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]
    ),
    ("fuzz-toml", "FuzzTOML", "TOML", [.product(name: "DaemonConfig", package: main)]),
    ("fuzz-cni", "FuzzCNI", "CNIResult", [.product(name: "RuntimeCore", package: main)]),
    ("fuzz-cdi", "FuzzCDI", "CDI", [.product(name: "RuntimeCore", package: main)]),
]

let package = Package(
    name: "SkiffFuzz",
    platforms: [.macOS(.v15)],
    products: fuzzers.map { .executable(name: $0.product, targets: [$0.target]) },
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: fuzzers.map {
        .executableTarget(
            name: $0.target,
            dependencies: $0.dependencies,
            path: $0.path,
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    }
)
