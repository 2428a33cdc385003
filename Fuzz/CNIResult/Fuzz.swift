// libFuzzer target: what RuntimeCore reads from CNI — a plugin's ADD result on stdout
// (CNIResult(raw:), which pulls out the pod's addresses) and a network configuration file
// (CNINetworkList.parse: name, version, the plugin chain), plus the version check that decides
// whether CHECK runs.
//
// The result is decoded inside CNIPluginRunner.add from the last plugin's stdout; add() itself
// spawns the plugins, so the fuzzer calls the decoding it ends with. The failure branch of a
// plugin run (the error JSON's msg and details) is inline in CNIPluginRunner.invoke, after the
// process has run, and is not reachable without a plugin.
//
// Besides not crashing: a parsed network list keeps a non-empty name and a typed plugin each,
// and it parses again from its own plugins.
import Foundation
import SkiffCommon

@testable import RuntimeCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)

    // A result that is not a CNI result is an error (the ADD is undone), never a crash.
    if let result = try? CNIResult(raw: bytes) {
        precondition(result.raw == bytes)
        for address in result.addresses {
            precondition(!address.ip.contains("/"), "\(address.address) gives the ip \(address.ip)")
        }
    }

    if let network = try? CNINetworkList.parse(bytes, file: "fuzz.conflist") {
        precondition(!network.name.isEmpty)
        precondition(
            !network.plugins.isEmpty && network.plugins.allSatisfy { !$0.type.isEmpty },
            "\(network.plugins.count) plugins, types \(network.pluginTypes)"
        )
        _ = CNIPluginRunner.supportsCheck(network.cniVersion)
        // The plugins as the runner sends them (name and cniVersion filled in) form a list again.
        let list = JSONValue.object([
            "name": .string(network.name), "cniVersion": .string(network.cniVersion),
            "plugins": .array(network.plugins.map { .object($0.fields) }),
        ])
        guard let again = try? CNINetworkList.parse(list.encoded(), file: "again.conflist") else {
            preconditionFailure("the parsed network does not parse again")
        }
        precondition(
            again.name == network.name && again.cniVersion == network.cniVersion
                && again.pluginTypes == network.pluginTypes
        )
    }
    return 0
}
