// libFuzzer target: CDI spec files (CDISpecParser.parse), which a device vendor's installer or a
// device plugin writes into the CDI spec directories and skiffd reads at each CreateContainer
// that asks for a device. The same bytes are read as JSON and as YAML (the two encodings the
// directories hold), and a broken file's outline (how a request names the broken file).
//
// Besides not crashing: a parsed spec has a kind whose devices form qualified names that parse
// again to themselves, every path that reaches the OCI spec is absolute without "..", its
// outline lists the same devices, and its edits resolve (device nodes completed from a fake
// node) without leaving a relative path.
import Foundation

@testable import RuntimeCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for format in [CDISpecParser.Format.json, .yaml] {
        _ = CDISpecParser.outline(bytes, format: format)
        // try?: a spec that does not parse is a logged broken file, never a crash.
        guard let parsed = try? CDISpecParser.parse(bytes, format: format) else { continue }
        check(parsed, bytes: bytes, format: format)
    }
    return 0
}

func check(_ parsed: (spec: CDISpec, vendor: String, class: String), bytes: [UInt8], format: CDISpecParser.Format) {
    precondition("\(parsed.vendor)/\(parsed.class)" == parsed.spec.kind)
    let outline = CDISpecParser.outline(bytes, format: format)
    precondition(outline?.kind == parsed.spec.kind, "outline \(String(describing: outline)) of \(parsed.spec.kind)")
    precondition(outline?.devices == parsed.spec.devices.map(\.name))
    var edits = CDIEdits()
    for device in parsed.spec.devices {
        let text = "\(parsed.vendor)/\(parsed.class)=\(device.name)"
        guard let name = try? CDIDeviceName(parsing: text) else {
            preconditionFailure("device \(text) of a valid spec is not a qualified name")
        }
        precondition(name.description == text)
        for edit in [parsed.spec.containerEdits, device.containerEdits].compactMap({ $0 }) {
            // try?: a node the fake host lacks is a request error, not a crash.
            try? edits.append(edit) { _ in .init(type: "c", major: 1, minor: 3, permissions: 0o666) }
        }
    }
    // On the bytes, as the kernel and the OCI runtime read them.
    func isConfined(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        return bytes.first == UInt8(ascii: "/")
            && !bytes.split(separator: UInt8(ascii: "/")).contains { $0.elementsEqual("..".utf8) }
    }
    for node in edits.deviceNodes { precondition(isConfined(node.node.path), node.node.path) }
    for mount in edits.mounts {
        precondition(isConfined(mount.destination) && isConfined(mount.source ?? ""), "\(mount)")
    }
    for entry in edits.env {
        precondition(entry.utf8.first != UInt8(ascii: "=") && entry.utf8.contains(UInt8(ascii: "=")), entry)
    }
}
