import FoundationEssentials

/// Reads one CDI spec file's bytes — JSON for `.json`, YAML for `.yaml` — into a checked
/// `CDISpec`. Pure: no file system access (the fuzz target `cdi` drives it with any bytes).
public enum CDISpecParser {
    public enum Format: Sendable {
        case json, yaml

        /// The format a spec directory's file name says, nil for files CDI ignores.
        public init?(fileName: String) {
            if fileName.hasSuffix(".json") {
                self = .json
            } else if fileName.hasSuffix(".yaml") {
                self = .yaml
            } else {
                return nil
            }
        }
    }

    /// Why a spec file cannot be used.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// A spec file is small; a larger one is refused unread.
    public static let maximumSize = 1 << 20
    /// YAML nodes decoded, aliases counted at every use: an alias bomb (a few lines that expand
    /// to millions of nodes) is refused before decoding.
    static let maximumYAMLNodes = 100_000

    /// The spec and the vendor and class of its kind, checked (`CDISpec.validated`).
    public static func parse(
        _ bytes: [UInt8],
        format: Format
    ) throws(Failure) -> (spec: CDISpec, vendor: String, class: String) {
        let spec = try decode(CDISpec.self, bytes, format: format)
        do {
            let kind = try spec.validated()
            return (spec, kind.vendor, kind.class)
        } catch {
            throw Failure(description: error.description)
        }
    }

    /// The kind and device names of a file that `parse` refuses, read without the checks, so a
    /// request for one of its devices can name the broken file. nil when even that fails.
    static func outline(_ bytes: [UInt8], format: Format) -> (kind: String, devices: [String])? {
        struct Outline: Decodable {
            struct Device: Decodable { var name: String? }
            var kind: String?
            var devices: [Device]?
        }
        // try?: a file too broken for its outline is reported by `parse`'s error instead.
        guard let outline = try? decode(Outline.self, bytes, format: format), let kind = outline.kind else {
            return nil
        }
        return (kind, (outline.devices ?? []).compactMap(\.name))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], format: Format) throws(Failure) -> T {
        guard bytes.count <= maximumSize else {
            throw Failure(description: "it is larger than \(maximumSize) bytes")
        }
        do {
            switch format {
            case .json:
                return try JSONDecoder().decode(type, from: Data(bytes))
            case .yaml:
                guard String(validating: bytes, as: UTF8.self) != nil else {
                    throw Failure(description: "it is not UTF-8 text")
                }
                let root: YAMLNode?
                do {
                    root = try YAMLReader.document(bytes)
                } catch {
                    throw Failure(description: error.description)
                }
                guard let root else { throw Failure(description: "it is empty") }
                var budget = maximumYAMLNodes
                guard fits(root, budget: &budget) else {
                    throw Failure(description: "it has more than \(maximumYAMLNodes) YAML nodes (aliases expanded)")
                }
                return try T(from: YAMLNodeDecoder(root))
            }
        } catch let failure as Failure {
            throw failure
        } catch let error as DecodingError {
            throw Failure(description: describe(error))
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// Counts `node` and its descendants against `budget`, stopping as soon as it is spent.
    static func fits(_ node: YAMLNode, budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0 else { return false }
        switch node {
        case .scalar:
            return true
        case .sequence(let sequence):
            return sequence.allSatisfy { fits($0, budget: &budget) }
        case .mapping(let mapping):
            return mapping.allSatisfy { fits($0.key, budget: &budget) && fits($0.value, budget: &budget) }
        }
    }

    /// A decoding error as one line: what, and where in the document.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? "" : " at \(path.hasPrefix(".") ? String(path.dropFirst()) : path)"
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \"\(key.stringValue)\"\(path(context))"
        case .typeMismatch(let type, let context):
            return "expected \(type)\(path(context)): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "expected \(type)\(path(context))"
        case .dataCorrupted(let context):
            return "\(context.debugDescription)\(path(context))"
        @unknown default:
            return "\(error)"
        }
    }
}
