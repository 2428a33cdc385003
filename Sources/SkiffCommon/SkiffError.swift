/// The one error type of Skiff's domain layers.
///
/// Every failure a node operator may see carries a ``Code`` (which the gRPC adapter maps, once,
/// to a status code), a message written for that operator (what was wrong and, where it helps,
/// what to do), and the underlying cause for the logs. Domain code never sees gRPC types.
public struct SkiffError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Extensible: a new case is a new static constant.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The caller sent something malformed: a bad reference, an unknown handler, a missing field.
        public static let invalidArgument = Code("invalidArgument")
        /// The named object (pod, container, image) does not exist.
        public static let notFound = Code("notFound")
        /// An object with the same identity already exists.
        public static let alreadyExists = Code("alreadyExists")
        /// The object is in a state where this operation cannot run (e.g. starting a removed container).
        public static let failedPrecondition = Code("failedPrecondition")
        /// The operation ran out of time (a stalled pull, a hung plugin).
        public static let deadlineExceeded = Code("deadlineExceeded")
        /// Skiff does not do this (yet).
        public static let unimplemented = Code("unimplemented")
        /// A dependency (registry, OCI runtime, CNI plugin) is unreachable or failed transiently.
        public static let unavailable = Code("unavailable")
        /// A limit was hit: disk, a size cap, a rate.
        public static let resourceExhausted = Code("resourceExhausted")
        /// The caller is not allowed to do this (registry auth refused, …).
        public static let permissionDenied = Code("permissionDenied")
        /// The operation was cancelled by the caller or by shutdown.
        public static let cancelled = Code("cancelled")
        /// A concurrent operation on the same object won; retry.
        public static let aborted = Code("aborted")
        /// A bug or an unexpected system failure.
        public static let internalError = Code("internalError")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message): \(cause)"
    }
}

extension SkiffError {
    public static func invalidArgument(_ message: String) -> SkiffError { SkiffError(.invalidArgument, message) }
    public static func notFound(_ message: String) -> SkiffError { SkiffError(.notFound, message) }
    public static func unimplemented(_ message: String) -> SkiffError { SkiffError(.unimplemented, message) }
    public static func internalError(_ message: String, cause: (any Error & Sendable)? = nil) -> SkiffError {
        SkiffError(.internalError, message, cause: cause)
    }
}

/// A cause known only by its text: for errors from libraries whose types are not Sendable.
public struct DescribedError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ error: any Error) { description = String(describing: error) }
    public init(description: String) { self.description = description }
}
