import Logging

extension Logger {
    /// Runs a step whose failure is not for the caller to throw: a best-effort cleanup, or a
    /// request whose outcome the caller checks another way (a kill, then a wait for the exit).
    /// A failure is logged at `level` with `message`, the error and `metadata`; nothing is lost
    /// silently, as it would be with `try?`.
    func logFailure<Failure: Error>(
        _ level: Logger.Level,
        _ message: @autoclosure () -> Logger.Message,
        metadata: Logger.Metadata = [:],
        of step: () throws(Failure) -> Void
    ) {
        do {
            try step()
        } catch {
            log(level: level, message(), metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    /// `logFailure` of an asynchronous step.
    func logFailure<Failure: Error>(
        _ level: Logger.Level,
        _ message: @autoclosure () -> Logger.Message,
        metadata: Logger.Metadata = [:],
        isolation: isolated (any Actor)? = #isolation,
        of step: () async throws(Failure) -> Void
    ) async {
        do {
            try await step()
        } catch {
            log(level: level, message(), metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }
}
