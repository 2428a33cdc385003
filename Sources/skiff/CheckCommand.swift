import ArgumentParser
import DaemonConfig
import RuntimeCore

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check that this node has what skiffd needs, and say how to get what is missing."
    )

    @OptionGroup var file: ConfigFileOption

    func run() async throws {
        let findings = await NodeCheck(configuration: try file.load()).run()
        let width = findings.map(\.subject.count).max() ?? 0
        for finding in findings {
            let mark =
                switch finding.outcome {
                case .ok: "ok  "
                case .warning: "warn"
                case .failure: "FAIL"
                }
            let padding = String(repeating: " ", count: width - finding.subject.count)
            print("\(mark)  \(finding.subject)\(padding)  \(finding.detail)")
        }
        let failures = findings.filter { $0.outcome == .failure }.count
        if failures > 0 {
            print("\(failures) check(s) failed: skiffd will not work on this node until they are fixed.")
            throw ExitCode(1)
        }
        print("this node can run skiffd")
    }
}
