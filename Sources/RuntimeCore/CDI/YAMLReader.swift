import CLibYAML

/// One node of a YAML document. An alias stands for the node its anchor named: the same value
/// (arrays are shared, not copied), so a document of aliases that expands to millions of nodes
/// costs only its own size until something walks it (`CDISpecParser` counts before decoding).
indirect enum YAMLNode: Sendable {
    case scalar(YAMLScalar)
    case sequence([YAMLNode])
    case mapping([YAMLPair])
}

struct YAMLPair: Sendable {
    var key: YAMLNode
    var value: YAMLNode
}

/// A scalar's text and how it was written: only a plain (unquoted, untagged) scalar can be a
/// number, a boolean or null (YAML 1.2 core schema); a quoted or `!!str` one is always text.
struct YAMLScalar: Sendable {
    var text: String
    var isPlain: Bool

    /// `null`, `Null`, `NULL`, `~` or nothing at all.
    var isNull: Bool {
        isPlain && ["", "~", "null", "Null", "NULL"].contains(text)
    }

    var bool: Bool? {
        guard isPlain else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

    /// Decimal with an optional sign, `0o` octal or `0x` hexadecimal; nil if it does not fit `T`.
    func integer<T: FixedWidthInteger>(_ type: T.Type) -> T? {
        guard isPlain else { return nil }
        for (prefix, radix) in [("0x", 16), ("0o", 8)] where text.hasPrefix(prefix) {
            let digits = text.dropFirst(2)
            return digits.first?.isHexDigit == true ? T(digits, radix: radix) : nil
        }
        return T(text, radix: 10)
    }

    var double: Double? {
        guard isPlain else { return nil }
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: return text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }) ? Double(text) : nil
        }
    }
}

/// Reads one YAML document with libyaml's event parser into a `YAMLNode` tree, without
/// recursion (the nesting limit bounds what walks the tree later).
enum YAMLReader {
    struct Failure: Error, Sendable, CustomStringConvertible {
        let description: String
    }

    /// Deeper documents are refused: the tree is walked recursively (Yams' libyaml had the same limit).
    static let maximumDepth = 1000

    private enum Open {
        case sequence([YAMLNode], anchor: String?)
        case mapping([YAMLPair], key: YAMLNode?, anchor: String?)
    }

    /// The document's root, nil for an empty stream. A second document, an alias without its
    /// anchor or a syntax error is a `Failure` naming the line and column.
    static func document(_ bytes: [UInt8]) throws(Failure) -> YAMLNode? {
        guard !bytes.isEmpty else { return nil }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw Failure(description: "libyaml could not start") }
        defer { yaml_parser_delete(&parser) }
        let result: Result<YAMLNode?, Failure> = bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            return Result { () throws(Failure) in try read(&parser) }
        }
        return try result.get()
    }

    private static func read(_ parser: inout yaml_parser_t) throws(Failure) -> YAMLNode? {
        var open: [Open] = []
        var anchors: [String: YAMLNode] = [:]
        var root: YAMLNode?
        var documents = 0

        func add(_ node: YAMLNode, anchor: String?) {
            if let anchor { anchors[anchor] = node }
            switch open.popLast() {
            case nil:
                root = node
            case .sequence(var items, let anchor):
                items.append(node)
                open.append(.sequence(items, anchor: anchor))
            case .mapping(var pairs, let key?, let anchor):
                pairs.append(YAMLPair(key: key, value: node))
                open.append(.mapping(pairs, key: nil, anchor: anchor))
            case .mapping(let pairs, nil, let anchor):
                open.append(.mapping(pairs, key: node, anchor: anchor))
            }
        }

        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { throw failure(parser) }
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return root
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                guard documents == 1 else {
                    throw Failure(
                        description: "line \(event.start_mark.line + 1): a second YAML document (one spec per file)"
                    )
                }
            case YAML_ALIAS_EVENT:
                let name = string(event.data.alias.anchor) ?? ""
                guard let node = anchors[name] else {
                    throw Failure(
                        description: "line \(event.start_mark.line + 1): alias *\(name) has no anchor before it"
                    )
                }
                add(node, anchor: nil)
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = String(
                    decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length),
                    as: UTF8.self
                )
                let isPlain = scalar.style == YAML_PLAIN_SCALAR_STYLE && scalar.plain_implicit == 1
                add(.scalar(YAMLScalar(text: text, isPlain: isPlain)), anchor: string(scalar.anchor))
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                guard open.count < maximumDepth else {
                    throw Failure(
                        description: "line \(event.start_mark.line + 1): nested deeper than \(maximumDepth) levels"
                    )
                }
                if event.type == YAML_SEQUENCE_START_EVENT {
                    open.append(.sequence([], anchor: string(event.data.sequence_start.anchor)))
                } else {
                    open.append(.mapping([], key: nil, anchor: string(event.data.mapping_start.anchor)))
                }
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                switch open.popLast() {
                case .sequence(let items, let anchor): add(.sequence(items), anchor: anchor)
                case .mapping(let pairs, _, let anchor): add(.mapping(pairs), anchor: anchor)
                case nil: throw Failure(description: "libyaml ended a collection that was not open")
                }
            default:
                continue
            }
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private static func failure(_ parser: yaml_parser_t) -> Failure {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { " " + String(cString: $0) } ?? ""
        let mark = parser.problem_mark
        return Failure(description: "line \(mark.line + 1) column \(mark.column + 1): \(problem)\(context)")
    }
}
