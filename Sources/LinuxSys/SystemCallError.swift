import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on what, and the errno it returned.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    public var call: String
    public var subject: String
    public var errno: Int32

    public init(_ call: String, _ subject: String, errno: Int32) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var description: String {
        "\(call)(\(subject)): \(String(cString: strerror(errno)))"
    }
}

/// Runs a system call, retrying while it fails with EINTR, and turns -1 into a typed error.
@discardableResult
public func systemCall<Result: BinaryInteger>(
    _ call: String, _ subject: String, _ body: () -> Result
) throws(SystemCallError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemCallError(call, subject, errno: code)
    }
}

extension SystemCallError {
    /// The error in the domain's terms; `message` says what Skiff was doing.
    public func skiffError(_ message: String) -> SkiffError {
        let code: SkiffError.Code = switch errno {
        case ENOENT: .notFound
        case EEXIST: .alreadyExists
        case EACCES, EPERM: .permissionDenied
        case ENOSPC, EDQUOT, EMFILE, ENFILE: .resourceExhausted
        default: .internalError
        }
        return SkiffError(code, message, cause: self)
    }
}
