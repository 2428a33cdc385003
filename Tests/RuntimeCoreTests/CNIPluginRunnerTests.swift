import Foundation
import SkiffCommon
import Testing

@testable import RuntimeCore

/// What the runner hands each plugin on stdin and how it reads what plugins print, with fake
/// plugins (shell scripts) that record their input: no namespace or network is touched.
@Suite struct CNIPluginRunnerTests {
    static func scratch() throws -> String {
        let path = "/tmp/skiff-cni-unit-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A plugin that saves its stdin as `<dir>/<name>-<command>.json` and prints `output` on ADD.
    static func recordingPlugin(_ name: String, in directory: String, output: String, status: Int = 0) throws {
        let script = """
            #!/bin/sh
            cat > \(directory)/\(name)-$CNI_COMMAND.json
            [ "$CNI_COMMAND" = ADD ] && printf '%s' '\(output)'
            exit \(status)

            """
        try script.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
        chmod("\(directory)/\(name)", 0o755)
    }

    static func input(_ path: String) throws -> [String: JSONValue] {
        try #require(try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: path))).objectValue)
    }

    @Test func pluginsGetTheirConfigPrevResultAndOnlyTheCapabilitiesTheyDeclare() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let firstResult = #"{"cniVersion":"1.0.0","ips":[{"address":"10.9.8.7/24","gateway":"10.9.8.1"}],"dns":{}}"#
        try Self.recordingPlugin("first", in: directory, output: firstResult)
        try Self.recordingPlugin("second", in: directory, output: "")
        let network = try CNINetworkList.parse(
            Data(
                """
                {"cniVersion":"1.0.0","name":"typed","plugins":[
                  {"type":"first","mtu":9000,"custom":{"nested":[1,2.5,"x",null,true]}},
                  {"type":"second","capabilities":{"portMappings":true,"bandwidth":true,"dns":false}}]}
                """.utf8
            ),
            file: "test"
        )
        #expect(network.pluginTypes == ["first", "second"])
        let huge: UInt64 = 10_000_000_000
        var sandbox = PodSandbox.placeholder(id: "pod", directory: directory)
        sandbox.annotations = ["kubernetes.io/ingress-bandwidth": "10G"]
        sandbox.portMappings = [
            .init(containerPort: 80, hostPort: 8080, protocol: "TCP", hostIP: ""),
            .init(containerPort: 81, hostPort: 0, protocol: "TCP", hostIP: ""),
        ]
        sandbox.dns = .init(servers: ["10.96.0.10"], searches: ["svc"], options: [])
        let attachment = CNIAttachment(
            containerID: "pod",
            netnsPath: "/nonexistent",
            capabilities: CNICapabilities(sandbox).values
        )
        let result = try await CNIPluginRunner(binDirs: [directory]).add(network, attachment)
        #expect(result.addresses == [.init(address: "10.9.8.7/24", gateway: "10.9.8.1")])
        #expect(result.raw == Data(firstResult.utf8), "a plugin that prints nothing passes the previous result on")

        let first = try Self.input(directory + "/first-ADD.json")
        #expect(first["name"] == .string("typed") && first["cniVersion"] == .string("1.0.0"))
        #expect(first["mtu"] == .integer(9000))
        #expect(
            first["custom"]
                == .object(["nested": .array([.integer(1), .number(2.5), .string("x"), .null, .bool(true)])])
        )
        #expect(first["prevResult"] == nil && first["runtimeConfig"] == nil, "the first plugin declared nothing")

        let second = try Self.input(directory + "/second-ADD.json")
        #expect(second["prevResult"] == (try JSONValue.parse(Data(firstResult.utf8))))
        let runtimeConfig = try #require(second["runtimeConfig"]?.objectValue)
        #expect(Set(runtimeConfig.keys) == ["portMappings", "bandwidth"], "dns was declared false")
        #expect(
            runtimeConfig["portMappings"]
                == .array([
                    .object([
                        "hostPort": .integer(8080), "containerPort": .integer(80), "protocol": .string("TCP"),
                    ])
                ]),
            "only real host ports"
        )
        #expect(
            runtimeConfig["bandwidth"]?.objectValue?["ingressRate"] == .integer(Int64(huge)),
            "integers stay integers"
        )
    }

    @Test func malformedResultsAndPluginErrorsAreReportedNotSwallowed() async throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.recordingPlugin("garbled", in: directory, output: "this is no result")
        let garbled = try CNINetworkList.parse(
            Data(#"{"cniVersion":"1.0.0","name":"g","type":"garbled"}"#.utf8),
            file: "test"
        )
        let runner = CNIPluginRunner(binDirs: [directory])
        let error = await #expect(throws: SkiffError.self) {
            try await runner.add(garbled, CNIAttachment(containerID: "x", netnsPath: "/none"))
        }
        #expect(error?.message.contains("malformed") == true, "\(String(describing: error))")
        #expect(FileManager.default.fileExists(atPath: directory + "/garbled-DEL.json"), "the ADD was undone")

        // A DEL whose recorded result cannot be read still runs, without prevResult.
        try await runner.delete(
            garbled,
            CNIAttachment(containerID: "x", netnsPath: "/none"),
            previousResult: Data("{torn".utf8)
        )
        #expect(try Self.input(directory + "/garbled-DEL.json")["prevResult"] == nil)

        try Self.recordingPlugin(
            "refusing",
            in: directory,
            output: #"{"code":7,"msg":"no","details":"because"}"#,
            status: 1
        )
        let refusing = try CNINetworkList.parse(
            Data(#"{"cniVersion":"1.0.0","name":"r","type":"refusing"}"#.utf8),
            file: "test"
        )
        let refused = await #expect(throws: SkiffError.self) {
            try await runner.add(refusing, CNIAttachment(containerID: "x", netnsPath: "/none"))
        }
        #expect(refused?.message.hasSuffix("failed (exit 1): no: because") == true, "\(String(describing: refused))")
    }

    @Test(arguments: [
        (#"[1]"#, "not a JSON object"), (#"{"cniVersion":"1.0.0"}"#, "has no \"name\""), (#"{"name":"n"}"#, "neither"),
        (#"{"name":"n","plugins":[{"type":"a"},{"mtu":1}]}"#, "needs a \"type\""),
        (#"{"name":"n","plugins":[]}"#, "needs a \"type\""),
    ])
    func networkListsWithoutWhatCNINeedsAreRefused(document: String, complaint: String) {
        let error = #expect(throws: SkiffError.self) {
            try CNINetworkList.parse(Data(document.utf8), file: "bad.conflist")
        }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains(complaint) == true, "\(String(describing: error))")
    }

    @Test func aSinglePluginConfIsAListOfOneWithADefaultVersion() throws {
        let network = try CNINetworkList.parse(
            Data(#"{"name":"single","type":"bridge","bridge":"b0"}"#.utf8),
            file: "10.conf"
        )
        #expect(network.cniVersion == "0.4.0")
        #expect(network.pluginTypes == ["bridge"])
        #expect(network.plugins.first?.fields["bridge"] == .string("b0"))
    }
}
