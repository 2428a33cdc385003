import Foundation
import Testing

@testable import DaemonConfig

@Suite struct ConfigLoaderTests {
    @Test func emptyFileMeansDefaults() throws {
        let configuration = try ConfigLoader.parse("", file: "empty.toml")
        #expect(configuration == DaemonConfiguration.defaults)
        #expect(configuration.rootDir == "/var/lib/skiff")
        #expect(configuration.stateDir == "/run/skiff")
        #expect(configuration.grpc.socketPath == "/run/skiff/skiff.sock")
        #expect(configuration.grpc.shutdownTimeout == .seconds(10))
        #expect(configuration.runtime.defaultHandler == "runc")
        #expect(configuration.runtime.handlers.keys.sorted() == ["crun", "runc", "runsc"])
        #expect(configuration.runtime.handlers["runc"]?.runtimePath == "runc")
        #expect(configuration.runtime.handlers["runsc"] == .init(runtimePath: "runsc"))
        #expect(configuration.runtime.cgroupDriver == .cgroupfs)
        #expect(configuration.network.cniBinDirs == ["/usr/lib/cni", "/opt/cni/bin"])
        #expect(configuration.streaming.idleTimeout == .seconds(4 * 3600))
        #expect(configuration.runtimeRoot(of: "crun") == "/run/skiff/runtime/crun")
    }

    @Test func theDefaultFileParsesBackToTheDefaults() throws {
        let text = ConfigRenderer.defaultFile()
        #expect(try ConfigLoader.parse(text, file: "default.toml") == DaemonConfiguration.defaults)
        // Every option of the table appears in it.
        for option in ConfigSchema.options {
            #expect(text.contains("\(ConfigRenderer.leafName(of: option.key)) = "), "missing \(option.key)")
        }
    }

    @Test func overridesAreApplied() throws {
        let configuration = try ConfigLoader.parse(
            """
            root_dir = "/srv/skiff"
            log_level = "debug"
            log_format = "json"
            [grpc]
            socket = "/run/other/skiff.sock"
            shutdown_timeout = "1m30s"
            [runtime]
            default_handler = "fast"
            cgroup_driver = "systemd"
            [runtime.handlers.fast]
            runtime_path = "/usr/bin/crun"
            runtime_root = "/run/fast"
            [runtime.handlers.slow]
            runtime_path = "runc"
            [runtime.handlers.kata]
            runtime_path = "/opt/kata/bin/kata-runtime"
            sandbox = true
            runtime_args = ["--log-level=debug", "--systemd-cgroup"]
            [network]
            cni_bin_dirs = ["/opt/cni"]
            [images.registries."localhost:5000"]
            insecure = true
            mirrors = ["mirror.local:5001"]
            [streaming]
            port = 10010
            """,
            file: "custom.toml"
        )
        #expect(configuration.rootDir == "/srv/skiff")
        #expect(configuration.logLevel == "debug")
        #expect(configuration.logFormat == .json)
        #expect(configuration.grpc.socketPath == "/run/other/skiff.sock")
        #expect(configuration.grpc.shutdownTimeout == .seconds(90))
        #expect(configuration.runtime.cgroupDriver == .systemd)
        #expect(
            configuration.runtime.handlers.keys.sorted() == ["fast", "kata", "slow"],
            "a file with handlers replaces the defaults"
        )
        #expect(configuration.runtime.handlers["fast"] == .init(runtimePath: "/usr/bin/crun", runtimeRoot: "/run/fast"))
        #expect(configuration.runtimeRoot(of: "slow") == "/run/skiff/runtime/slow")
        #expect(
            configuration.runtime.handlers["kata"]
                == .init(
                    runtimePath: "/opt/kata/bin/kata-runtime",
                    sandbox: true,
                    runtimeArguments: ["--log-level=debug", "--systemd-cgroup"]
                )
        )
        #expect(configuration.network.cniBinDirs == ["/opt/cni"])
        #expect(
            configuration.images.registries["localhost:5000"] == .init(mirrors: ["mirror.local:5001"], insecure: true)
        )
        #expect(configuration.streaming.port == 10010)
    }

    @Test(arguments: [
        ("colour = 1", 1, "colour", "unknown key"),
        ("[grpc]\n\nsockett = \"/x\"", 3, "grpc.sockett", "unknown key"),
        ("[nope]\na = 1", 1, "nope", "unknown key"),
        (
            "[runtime.handlers.runc]\nruntime_path = \"runc\"\nflavour = 1", 3, "runtime.handlers.runc.flavour",
            "unknown key"
        ),
        ("root_dir = 5", 1, "root_dir", "must be a string, got a integer"),
        ("root_dir = \"relative\"", 1, "root_dir", "absolute path"),
        ("log_level = \"loud\"", 1, "log_level", "must be one of trace, debug"),
        ("[streaming]\nport = 70000", 2, "streaming.port", "between 0 and 65535"),
        (
            "[streaming]\n\ntls_cert_file = \"/etc/skiff/s.pem\"", 3, "streaming.tls_cert_file",
            "without streaming.tls_key_file"
        ),
        ("[grpc]\nshutdown_timeout = \"soon\"", 2, "grpc.shutdown_timeout", "duration"),
        ("[network]\ncni_bin_dirs = [\"/a\", 3]", 2, "network.cni_bin_dirs", "list of strings"),
        ("[network]\ncni_bin_dirs = [\"lib/cni\"]", 2, "network.cni_bin_dirs", "absolute paths"),
        ("[runtime]\ndefault_handler = \"kata\"", 2, "runtime.default_handler", "not defined in runtime.handlers"),
        ("grpc = 3", 1, "grpc", "must be a table"),
        ("[images.registries.\"a/b\"]\ninsecure = true", 1, "images.registries.\"a/b\"", "host or host:port"),
        (
            "[runtime.handlers.runc]\nruntime_path = \"bin/runc\"", 2, "runtime.handlers.runc.runtime_path",
            "absolute path or a bare name"
        ),
    ])
    func badKeysAndValuesNameFileLineAndKey(source: String, line: Int, key: String, reason: String) {
        #expect {
            try ConfigLoader.parse(source, file: "/etc/skiff/test.toml")
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.file == "/etc/skiff/test.toml" && error.line == line && error.key == key
                && error.reason.contains(reason)
                && error.description.hasPrefix("/etc/skiff/test.toml:\(line): key '\(key)': ")
        }
    }

    @Test func syntaxErrorsNameFileAndLine() {
        #expect {
            try ConfigLoader.parse("a = 1\n[grpc\n", file: "x.toml")
        } throws: { error in
            (error as? ConfigError)?.description.hasPrefix("x.toml:2: TOML syntax error") == true
        }
    }

    @Test func aMissingExplicitFileIsAnError() {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: "/nonexistent/skiff.toml") }
    }

    @Test func docsConfigMarkdownIsCurrent() throws {
        let docs = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let path = "/\(docs)/docs/config.md"
        let current = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            current == ConfigRenderer.markdown(),
            "docs/config.md is stale: swift run skiff config docs > docs/config.md"
        )
    }
}
