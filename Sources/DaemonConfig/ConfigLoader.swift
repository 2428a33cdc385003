import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Reads skiffd's TOML file into a ``DaemonConfiguration``, refusing unknown keys and bad values.
public enum ConfigLoader {
    /// Where skiffd looks when `--config` is not given.
    public static let defaultPath = "/etc/skiff/skiff.toml"

    /// Loads `path`, or the defaults when `path` is nil and the default file does not exist.
    /// An explicitly named file that is missing is an error.
    public static func load(path: String?) throws(ConfigError) -> DaemonConfiguration {
        let file = path ?? defaultPath
        guard let text = readFile(file) else {
            if path == nil && errno == ENOENT { return .defaults }
            throw ConfigError(
                file: file,
                line: 0,
                key: nil,
                reason: "cannot read the file: \(String(cString: strerror(errno)))"
            )
        }
        return try parse(text, file: file)
    }

    /// Parses configuration text; `file` only names it in errors.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> DaemonConfiguration {
        let document: TOMLTable
        do {
            document = try TOMLParser.parse(text)
        } catch {
            throw ConfigError(
                file: file,
                line: error.line,
                key: nil,
                reason: "TOML syntax error at column \(error.column): \(error.reason)"
            )
        }
        var configuration = DaemonConfiguration()
        for option in ConfigSchema.options { option.applyDefault(to: &configuration) }
        var decoders: [String: ConfigWalker.NamedTableDecoder<DaemonConfiguration>] = [:]
        for table in ConfigSchema.namedTables {
            decoders[table.key] = table.decode
            if lookup(table.key, in: document) == nil { table.applyDefaults(&configuration) }
        }
        do {
            try ConfigWalker.apply(
                document,
                prefix: "",
                options: ConfigSchema.options,
                namedTables: decoders,
                to: &configuration
            )
            try validate(configuration, document: document)
        } catch {
            throw ConfigError(file: file, line: error.line, key: error.key, reason: error.reason)
        }
        return configuration
    }

    /// Checks that span several keys.
    static func validate(_ configuration: DaemonConfiguration, document: TOMLTable) throws(ConfigIssue) {
        let runtime = configuration.runtime
        if runtime.handlers.isEmpty {
            throw ConfigIssue(
                line: lookup("runtime.handlers", in: document)?.line ?? 0,
                key: "runtime.handlers",
                reason: "at least one runtime handler must be defined"
            )
        }
        if runtime.handlers[runtime.defaultHandler] == nil {
            let known = runtime.handlers.keys.sorted().joined(separator: ", ")
            throw ConfigIssue(
                line: lookup("runtime.default_handler", in: document)?.line ?? 0,
                key: "runtime.default_handler",
                reason:
                    "names handler \"\(runtime.defaultHandler)\", which is not defined in runtime.handlers (defined: \(known))"
            )
        }
        let socket = configuration.grpc.socketPath
        if socket.utf8.count >= 108 {
            throw ConfigIssue(
                line: lookup("grpc.socket", in: document)?.line ?? 0,
                key: "grpc.socket",
                reason: "is \(socket.utf8.count) bytes long; a unix socket path must be shorter than 108 bytes"
            )
        }
        let streaming = configuration.streaming
        if streaming.tlsCertFile.isEmpty != streaming.tlsKeyFile.isEmpty {
            let missing = streaming.tlsCertFile.isEmpty ? "streaming.tls_cert_file" : "streaming.tls_key_file"
            let given = streaming.tlsCertFile.isEmpty ? "streaming.tls_key_file" : "streaming.tls_cert_file"
            throw ConfigIssue(
                line: lookup(given, in: document)?.line ?? 0,
                key: given,
                reason: "is set without \(missing): serving HTTPS needs both the certificate and its key"
            )
        }
        if configuration.rootDir == configuration.stateDir {
            throw ConfigIssue(
                line: lookup("state_dir", in: document)?.line ?? 0,
                key: "state_dir",
                reason: "must differ from root_dir (\(configuration.rootDir)): one survives reboots, the other must not"
            )
        }
    }

    /// The entry at a dotted key, if the document has it.
    static func lookup(_ dottedKey: String, in document: TOMLTable) -> TOMLTable.Entry? {
        var table = document
        let parts = dottedKey.split(separator: ".").map(String.init)
        for (index, part) in parts.enumerated() {
            guard let entry = table.entry(part) else { return nil }
            if index == parts.count - 1 { return entry }
            guard case .table(let inner) = entry.value else { return nil }
            table = inner
        }
        return nil
    }

    private static func readFile(_ path: String) -> String? {
        guard let handle = fopen(path, "r") else { return nil }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, handle)
            if count > 0 { bytes.append(contentsOf: buffer[0..<count]) }
            if count < buffer.count { break }
            if bytes.count > 4 << 20 {
                errno = EFBIG
                return nil
            }
        }
        if ferror(handle) != 0 { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A refused configuration: one line an operator can act on, "FILE:LINE: key 'KEY': REASON".
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var key: String?
    public var reason: String

    public var description: String {
        let place = line > 0 ? "\(file):\(line)" : file
        guard let key else { return "\(place): \(reason)" }
        return "\(place): key '\(key)': \(reason)"
    }
}

extension ConfigError {
    /// The same failure in the domain's error type.
    public var skiffError: SkiffError { SkiffError(.invalidArgument, description) }
}
