// swift-tools-version:6.1
import PackageDescription

// Layers, bottom to top (docs/ARCHITECTURE.md explains each):
//   CLinuxShim → LinuxSys                      system edges: syscalls Glibc lacks, typed errors
//   SkiffCommon                                the one domain error type
//   DaemonConfig, Metadata                     configuration table, durable state
//   ImageCore, RuntimeCore, StreamingServer    domain services (no gRPC or protobuf types)
//   CRIAPI → CRIServer                         generated CRI v1 code, thin gRPC adapter
//   SkiffDaemon → skiffd, skiff                daemon assembly, executables
let package = Package(
    name: "Skiff",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "skiffd", targets: ["skiffd"]),
        .executable(name: "skiff", targets: ["skiff"]),
        .executable(name: "skiff-fixture", targets: ["skiff-fixture"]),
        .executable(name: "skiff-pinns", targets: ["skiff-pinns"]),
        .executable(name: "skiff-pause", targets: ["skiff-pause"]),
        .executable(name: "skiff-sandbox-shim", targets: ["skiff-sandbox-shim"]),
        // For the libFuzzer targets of Fuzz/Package.swift (scripts/fuzz.sh) only.
        .library(name: "ImageCore", targets: ["ImageCore"]),
        .library(name: "StreamingServer", targets: ["StreamingServer"]),
        .library(name: "DaemonConfig", targets: ["DaemonConfig"]),
        .library(name: "RuntimeCore", targets: ["RuntimeCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", exact: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/pointfreeco/swift-clocks", from: "1.1.1"),
    ],
    targets: [
        .target(name: "CLinuxShim"),
        .target(name: "LinuxSys", dependencies: ["CLinuxShim", "SkiffCommon"]),
        .target(name: "SkiffCommon"),
        .target(name: "DaemonConfig", dependencies: ["SkiffCommon"]),
        .target(name: "Metadata", dependencies: ["SkiffCommon", "LinuxSys"]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        // CDI spec files may be YAML (RuntimeCore/CDI/YAMLReader.swift).
        .systemLibrary(name: "CLibYAML", path: "Sources/CLibYAML"),
        .target(
            name: "ImageCore",
            dependencies: [
                "SkiffCommon", "LinuxSys", "CLinuxShim", "CZlib", "CZstd", "Metadata",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Builds OCI test images from Debian's busybox and pushes them to a registry: used by the
        // tests and the benchmarks, never by the daemon.
        .target(
            name: "ImageFixtures",
            dependencies: [
                "CZlib", "CZstd", "ImageCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            // Test images are built with Foundation; scripts/build-release.sh turns its autolink
            // off for skiffd's sake, so what uses it asks for it here.
            linkerSettings: [.linkedLibrary("Foundation")]
        ),
        .target(
            name: "RuntimeCore",
            dependencies: [
                "SkiffCommon", "DaemonConfig", "ImageCore", "LinuxSys", "Metadata", "CLibYAML",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "StreamingServer",
            dependencies: [
                "SkiffCommon", "LinuxSys", "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CRIAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "SkiffAdminAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "CRIServer",
            dependencies: [
                "CRIAPI", "SkiffAdminAPI", "SkiffCommon", "RuntimeCore", "ImageCore", "StreamingServer",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SkiffDaemon",
            dependencies: [
                "CRIServer", "DaemonConfig", "ImageCore", "LinuxSys", "RuntimeCore", "SkiffCommon", "StreamingServer",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "skiffd",
            dependencies: ["SkiffDaemon", "DaemonConfig"],
            exclude: ["link"],
            // Release skiffd (built by scripts/build-release.sh, whose flags this link relies on):
            // the Swift runtime and FoundationEssentials linked in (no 13 shared libraries for
            // ld.so to relocate at start), lld with compact relative relocations (RELR,
            // glibc ≥ 2.36), no exported symbol table (the static runtime's link file asks for
            // -export-dynamic: megabytes of .dynsym/.dynstr for nothing), and the functions the
            // start runs placed side by side, so that the code pages an idle skiffd keeps are few.
            // Idle RSS 38.5 → under 20 MiB (docs/performance.md). Still PIE.
            linkerSettings: [
                .unsafeFlags(
                    [
                        "-static-stdlib", "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                        "-Xlinker", "--no-export-dynamic",
                        // Functions the start runs side by side (scripts/generate-startup-order.sh),
                        // and the unnamed ones next to them.
                        "-Xlinker",
                        "--symbol-ordering-file=\(Context.packageDirectory)/Sources/skiffd/link/startup-order.txt",
                        "-Xlinker", "--no-warn-symbol-ordering",
                        "-Xlinker", "--script=\(Context.packageDirectory)/Sources/skiffd/link/code-layout.ld",
                        // What the Foundation archives autolink (they were built for the shared SDK).
                        // An archive adds only what is used: with Foundation's autolink off
                        // (build-release.sh) skiffd links FoundationEssentials alone.
                        "-lFoundation", "-lCoreFoundation", "-lFoundationInternationalization",
                        "-lFoundationEssentials", "-l_FoundationICU", "-l_FoundationCShims",
                        "-l_FoundationCollections", "-lswiftDispatch", "-ldispatch", "-lBlocksRuntime",
                        "-lswiftSynchronization", "-lswift_StringProcessing", "-lswift_RegexParser",
                        "-lswift_Concurrency", "-lswiftCore", "-lstdc++", "-lutil", "-ldl", "-lpthread",
                    ],
                    .when(configuration: .release)
                )
            ]
        ),
        .executableTarget(
            name: "skiff",
            dependencies: [
                "DaemonConfig", "LinuxSys", "RuntimeCore", "CRIAPI", "SkiffAdminAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            // Formats durations with FoundationInternationalization, asked for by name: see
            // ImageFixtures.
            linkerSettings: [.linkedLibrary("FoundationInternationalization")]
        ),
        // Creates and pins a pod's namespaces in a short-lived process (unshare must not run on a
        // daemon thread).
        .executableTarget(name: "skiff-pinns"),
        // Holds a pod's shared PID namespace as its init; static, so it runs in an empty root.
        // Plain C: swiftc's -nostartfiles leaves out only the Swift runtime's start-up object
        // (swiftrt.o; crt1.o, crti.o and crtbeginT.o stay, so libc starts as usual), and with
        // nothing referring to it no Swift runtime is linked: 4.8 → 0.7 MiB RSS per shared-PID
        // pod, 9.5 MB → 0.8 MB on disk (docs/performance.md).
        .executableTarget(
            name: "skiff-pause",
            linkerSettings: [.unsafeFlags(["-static-executable", "-nostartfiles"])]
        ),
        // Stands for a container of a gVisor pod as conmon's child (conmon cannot wait for the
        // sandbox's process), and starts it with conmon's stdio.
        .executableTarget(name: "skiff-sandbox-shim"),
        .executableTarget(
            name: "skiff-fixture",
            dependencies: [
                "ImageFixtures", "ImageCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // Benchmarks run on demand (Benchmarks/*.sh), never as tests.
        .executableTarget(
            name: "skiff-bench",
            dependencies: [
                "CRIAPI", "LinuxSys", "RuntimeCore", "StreamingServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            path: "Benchmarks/skiff-bench",
            // Foundation, asked for by name: see ImageFixtures.
            linkerSettings: [.linkedLibrary("Foundation")]
        ),
        .testTarget(name: "DaemonConfigTests", dependencies: ["DaemonConfig", "SkiffCommon"]),
        .testTarget(name: "LinuxSysTests", dependencies: ["LinuxSys", "SkiffCommon"]),
        .testTarget(
            name: "SkiffDaemonTests",
            dependencies: [
                "SkiffDaemon",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ]
        ),
        .testTarget(name: "RuntimeCoreTests", dependencies: ["RuntimeCore", "DaemonConfig", "ImageFixtures"]),
        .testTarget(name: "MetadataTests", dependencies: ["Metadata", "LinuxSys", "SkiffCommon"]),
        .testTarget(
            name: "StreamingServerTests",
            dependencies: [
                "StreamingServer", "SkiffCommon",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Clocks", package: "swift-clocks"),
            ]
        ),
        .testTarget(name: "ImageCoreTests", dependencies: ["ImageCore", "ImageFixtures", "SkiffCommon"]),
        .testTarget(
            name: "CRIServerTests",
            dependencies: [
                "CRIServer", "CRIAPI", "SkiffCommon", "RuntimeCore", "DaemonConfig", "ImageCore",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "CRIAPI", "SkiffAdminAPI", "ImageFixtures", "ImageCore", "CLinuxShim", "LinuxSys",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            exclude: [
                "Support/fake_registry.py", "Support/token_server.py", "Support/spdy_exec_client.py",
                "Support/spdy_portforward_client.py", "Support/raw_request.py", "Support/grpcgo-load",
            ]
        ),
    ]
)
