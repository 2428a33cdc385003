import CRIAPI
import Foundation
import GRPCCore
import Testing

/// skiffd started as a real process, spoken to over its real socket.
@Suite(.serialized) struct DaemonLifecycleTests {
    @Test func versionStatusAndRuntimeConfigOverTheSocket() async throws {
        try await withDaemon { daemon in
            let version = try await daemon.runtime { try await $0.version(.init()) }
            #expect(version.runtimeName == "skiff")
            #expect(version.runtimeApiVersion == "v1")
            #expect(!version.runtimeVersion.isEmpty)

            let status = try await daemon.runtime { try await $0.status(.init()) }
            let conditions = Dictionary(uniqueKeysWithValues: status.status.conditions.map { ($0.type, $0) })
            #expect(conditions["RuntimeReady"]?.status == true, "\(status)")
            #expect(conditions["NetworkReady"]?.status == false)
            #expect(conditions["NetworkReady"]?.reason == "NetworkPluginNotReady")
            #expect(status.runtimeHandlers.map(\.name).contains("runc"))

            // Writing a network config makes the network ready without a restart.
            try "{\"cniVersion\":\"1.0.0\",\"name\":\"t\",\"plugins\":[]}".write(
                toFile: daemon.cniConfDir + "/10-test.conflist",
                atomically: true,
                encoding: .utf8
            )
            let ready = try await daemon.runtime { try await $0.status(.init()) }
            #expect(ready.status.conditions.allSatisfy { $0.status }, "\(ready)")

            let config = try await daemon.runtime { try await $0.runtimeConfig(.init()) }
            #expect(config.linux.cgroupDriver == .cgroupfs)
        }
    }

    @Test func socketHasMode0660InA0755Directory() async throws {
        try await withDaemon { daemon in
            let socket = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)
            #expect(socket[.posixPermissions] as? Int == 0o660)
            #expect(socket[.ownerAccountID] as? Int == 0)
            #expect(socket[.type] as? FileAttributeType == .typeSocket)
            let parent = try FileManager.default.attributesOfItem(atPath: daemon.stateDir)
            #expect(parent[.posixPermissions] as? Int == 0o755)
        }
    }

    @Test func podCIDRIsValidatedAndSurvivesARestart() async throws {
        try await withDaemon { daemon in
            var request = Runtime_V1_UpdateRuntimeConfigRequest()
            request.runtimeConfig.networkConfig.podCidr = "not-a-cidr"
            let refused = await #expect(throws: RPCError.self) {
                try await daemon.runtime { try await $0.updateRuntimeConfig(request) }
            }
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.message.contains("not-a-cidr") == true)

            request.runtimeConfig.networkConfig.podCidr = "10.88.0.0/16"
            _ = try await daemon.runtime { try await $0.updateRuntimeConfig(request) }
            #expect(try await daemon.stop() == 0)
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath), "the socket is removed at exit")

            try await daemon.start()
            var verbose = Runtime_V1_StatusRequest()
            verbose.verbose = true
            let status = try await daemon.runtime { try await $0.status(verbose) }
            #expect(
                status.info["config"]?.contains("\"podCIDR\":\"10.88.0.0\\/16\"") == true
                    || status.info["config"]?.contains("\"podCIDR\":\"10.88.0.0/16\"") == true,
                "\(status.info)"
            )
        }
    }

    @Test func aSecondDaemonOnTheSameRootIsRefusedNamingThePid() async throws {
        try await withDaemon { daemon in
            let pid = daemon.process!.processIdentifier
            let second = try await daemon.runToCompletion(arguments: ["--config", daemon.configPath])
            #expect(second.status != 0)
            #expect(second.stderr.contains("another skiffd (pid \(pid)) holds"), "\(second.stderr)")
            // The first daemon is unharmed and still owns its socket.
            let version = try await daemon.runtime { try await $0.version(.init()) }
            #expect(version.runtimeName == "skiff")
        }
    }

    @Test func aBadConfigurationStopsTheDaemonWithFileLineAndKey() async throws {
        try await withDaemon(start: false) { daemon in
            let bad = daemon.directory + "/bad.toml"
            try "root_dir = \"\(daemon.rootDir)\"\n\n[grpc]\nsocket_path = \"/x.sock\"\n".write(
                toFile: bad,
                atomically: true,
                encoding: .utf8
            )
            let unknown = try await daemon.runToCompletion(arguments: ["--config", bad])
            #expect(unknown.status != 0)
            #expect(unknown.stderr.contains("\(bad):4: key 'grpc.socket_path': unknown key"), "\(unknown.stderr)")
            #expect(unknown.stderr.split(separator: "\n").count == 1, "one line")

            try "[streaming]\nport = \"ten\"\n".write(toFile: bad, atomically: true, encoding: .utf8)
            let wrongType = try await daemon.runToCompletion(arguments: ["--config", bad])
            #expect(wrongType.status != 0)
            #expect(
                wrongType.stderr.contains("\(bad):2: key 'streaming.port': must be an integer"),
                "\(wrongType.stderr)"
            )

            try
                "root_dir = \"\(daemon.rootDir)\"\nstate_dir = \"\(daemon.stateDir)\"\n[grpc]\nsocket = \"\(daemon.socketPath)\"\n[runtime]\ncgroup_driver = \"systemd\"\n"
                .write(toFile: bad, atomically: true, encoding: .utf8)
            let systemd = try await daemon.runToCompletion(arguments: ["--config", bad])
            #expect(systemd.status != 0)
            #expect(
                systemd.stderr.contains("runtime.cgroup_driver") && systemd.stderr.contains("is not supported yet"),
                "\(systemd.stderr)"
            )

            let missing = try await daemon.runToCompletion(arguments: ["--config", daemon.directory + "/absent.toml"])
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("absent.toml"))
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
        }
    }

    @Test func badCommandLinesAreRefusedWithUsageAndFlagsTakeBothForms() async throws {
        try await withDaemon(start: false) { daemon in
            let unknown = try await daemon.runToCompletion(arguments: ["--config", daemon.configPath, "--bogus"])
            #expect(unknown.status == 64)
            #expect(unknown.stderr.contains("unknown option '--bogus'") && unknown.stderr.contains("USAGE: skiffd"))
            let level = try await daemon.runToCompletion(arguments: [
                "--config=\(daemon.configPath)", "--log-level=loud",
            ])
            #expect(level.status == 64)
            #expect(level.stderr.contains("the value 'loud' is invalid for '--log-level'"), "\(level.stderr)")
            let missing = try await daemon.runToCompletion(arguments: ["--config"])
            #expect(
                missing.status == 64 && missing.stderr.contains("missing value for '--config'"),
                "\(missing.stderr)"
            )
            // `--name=value` reaches the loader like `--name value`: the absent file is named.
            let absent = try await daemon.runToCompletion(arguments: ["--config=\(daemon.directory)/absent.toml"])
            #expect(absent.status == 1 && absent.stderr.contains("absent.toml"), "\(absent.stderr)")
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
        }
    }

    @Test func sigintStopsCleanlyAndSigkillLeavesNothingThatBlocksARestart() async throws {
        try await withDaemon { daemon in
            #expect(try await daemon.stop(signal: SIGINT) == 0)
            #expect(daemon.log().contains("skiffd stopped"))

            try await daemon.start()
            try await daemon.stop(signal: SIGKILL)
            #expect(FileManager.default.fileExists(atPath: daemon.socketPath), "a killed daemon leaves its socket")
            try await daemon.start()
            let version = try await daemon.runtime { try await $0.version(.init()) }
            #expect(version.runtimeName == "skiff")
            #expect(try await daemon.stop() == 0)
        }
    }

    @Test func startUpLogsOneLineWithVersionSocketConfigAndHandlers() async throws {
        try await withDaemon { daemon in
            let line =
                daemon.log().split(separator: "\n").first { $0.contains("skiffd started") }.map(String.init) ?? ""
            #expect(line.contains("version=0.1.0"), "\(line)")
            #expect(line.contains("socket=\(daemon.socketPath)"))
            #expect(line.contains("config=\(daemon.configPath)"))
            #expect(line.contains("runc=/"))
        }
    }
}
