import CRIAPI
import RuntimeCore
import SwiftProtobuf

/// Collects the enum fields of a request whose value this CRI version does not define. The
/// conversion stays total and faithful: it names them, and the domain's validation refuses the
/// request (a conversion that mapped them to a default would silently downgrade, e.g. an
/// unknown seccomp type to no seccomp at all).
struct UnrecognizedEnums {
    private(set) var values: [UnrecognizedValue] = []

    mutating func check<Value: SwiftProtobuf.Enum & CaseIterable>(_ value: Value, _ field: @autoclosure () -> String) {
        if !Value.allCases.contains(value) {
            values.append(UnrecognizedValue(field: field(), rawValue: value.rawValue))
        }
    }

    mutating func check(_ options: Runtime_V1_NamespaceOption, at path: String) {
        check(options.network, "\(path).network")
        check(options.pid, "\(path).pid")
        check(options.ipc, "\(path).ipc")
        if options.hasUsernsOptions { check(options.usernsOptions.mode, "\(path).userns_options.mode") }
    }

    mutating func check(_ profile: Runtime_V1_SecurityProfile, present: Bool, at path: String) {
        if present { check(profile.profileType, "\(path).profile_type") }
    }
}
