/// One condition of the runtime as the kubelet reads it from Status: the node is Ready only
/// while both RuntimeReady and NetworkReady are true.
public struct RuntimeCondition: Sendable, Equatable {
    public static let runtimeReady = "RuntimeReady"
    public static let networkReady = "NetworkReady"

    public var type: String
    public var isTrue: Bool
    /// CamelCase, machine-readable; empty when true.
    public var reason: String
    /// What is wrong and what to do, for the operator; empty when true.
    public var message: String

    public init(type: String, isTrue: Bool, reason: String = "", message: String = "") {
        self.type = type
        self.isTrue = isTrue
        self.reason = reason
        self.message = message
    }
}
