import FoundationEssentials
import SkiffCommon

/// What an OCI runtime said when a command failed. Called with `--log-format json`, runc and
/// crun print each log entry as `{"level": …, "msg": …, "time": …}` on stderr; runsc prints its
/// errors as text whatever the flag. The report keeps the messages of error entries (else every
/// non-empty line), so a failure names what the runtime said, not its log syntax.
struct RuntimeErrorReport: Equatable, Sendable {
    private struct Entry: Decodable {
        var level: String?
        var msg: String
    }

    /// The runtime's error messages, oldest first.
    var messages: [String]

    init(stderr: [UInt8]) {
        var errors: [String] = []
        var others: [String] = []
        for line in String(decoding: stderr, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let text = line.trimmingWhitespace()
            guard !text.isEmpty else { continue }
            if text.hasPrefix("{"), let entry = Self.entry(text) {
                if entry.level == nil || entry.level == "error" || entry.level == "fatal" {
                    errors.append(entry.msg)
                } else {
                    others.append(entry.msg)
                }
            } else {
                errors.append(text)
            }
        }
        messages = errors.isEmpty ? others : errors
    }

    private static func entry(_ line: String) -> Entry? {
        do {
            return try JSONDecoder().decode(Entry.self, from: Data(line.utf8))
        } catch {
            return nil  // a text line that starts with "{": kept as text
        }
    }

    /// The messages on one line, for an operator.
    var summary: String {
        messages.isEmpty ? "(nothing on stderr)" : messages.joined(separator: "; ")
    }

    /// Whether the runtime said it has no container `id`. The CLI contract gives only exit
    /// status 1, so the wording is matched: runc "container does not exist", crun "container
    /// `x` does not exist" or, for state and kill, "error opening file `<root>/<id>/status`: No
    /// such file or directory", runsc "loading container: file does not exist" or "… not found".
    func saysNoSuchContainer(_ id: String) -> Bool {
        messages.contains { message in
            message.contains("does not exist") || message.contains("not found")
                || (message.contains("/\(id)/") && message.contains("No such file or directory"))
        }
    }
}
