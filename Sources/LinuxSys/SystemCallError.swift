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
    _ call: String,
    _ subject: String,
    _ body: () -> Result
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
    ///
    /// A failing system call is skiffd's own failure (INTERNAL), whatever its errno: a missing
    /// file while creating a container's directories is no "object not found" for the client,
    /// nor is EPERM the client's lack of permission. Only the caller knows what a missing file
    /// means for its request (an import file the client named, a runtime binary the node lacks):
    /// it says so with `ifMissing`. Exhausted resources (disk, fds) stay RESOURCE_EXHAUSTED.
    public func skiffError(_ message: String, ifMissing: SkiffError.Code = .internalError) -> SkiffError {
        let code: SkiffError.Code =
            switch errno {
            case ENOENT: ifMissing
            case ENOSPC, EDQUOT, EMFILE, ENFILE: .resourceExhausted
            default: .internalError
            }
        return SkiffError(code, message, cause: self)
    }
}
