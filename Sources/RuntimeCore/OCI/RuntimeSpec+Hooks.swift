/// `hooks` and `linux.intelRdt` of the OCI runtime spec: Skiff writes them only for CDI devices
/// whose spec files ask for them (`CDIEdits`).
extension RuntimeSpec {
    public struct Hook: Codable, Sendable, Equatable {
        public var path: String
        public var args: [String]?
        public var env: [String]?
        /// Seconds.
        public var timeout: Int?

        public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
            self.path = path
            self.args = args
            self.env = env
            self.timeout = timeout
        }
    }

    /// Hooks by stage, each run in order by the OCI runtime.
    public struct Hooks: Codable, Sendable, Equatable {
        public var prestart: [Hook]?
        public var createRuntime: [Hook]?
        public var createContainer: [Hook]?
        public var startContainer: [Hook]?
        public var poststart: [Hook]?
        public var poststop: [Hook]?

        public init() {}

        public var isEmpty: Bool { self == Hooks() }

        /// Adds `hook` to the stage named `stage` (an OCI key such as `createContainer`); an
        /// unknown stage is refused earlier, by the CDI spec's validation.
        mutating func append(_ hook: Hook, stage: String) {
            switch stage {
            case "prestart": prestart = (prestart ?? []) + [hook]
            case "createRuntime": createRuntime = (createRuntime ?? []) + [hook]
            case "createContainer": createContainer = (createContainer ?? []) + [hook]
            case "startContainer": startContainer = (startContainer ?? []) + [hook]
            case "poststart": poststart = (poststart ?? []) + [hook]
            case "poststop": poststop = (poststop ?? []) + [hook]
            default: break
            }
        }

        /// `other`'s hooks after these, stage by stage.
        mutating func append(contentsOf other: Hooks) {
            func joined(_ first: [Hook]?, _ second: [Hook]?) -> [Hook]? {
                let all = (first ?? []) + (second ?? [])
                return all.isEmpty ? nil : all
            }
            prestart = joined(prestart, other.prestart)
            createRuntime = joined(createRuntime, other.createRuntime)
            createContainer = joined(createContainer, other.createContainer)
            startContainer = joined(startContainer, other.startContainer)
            poststart = joined(poststart, other.poststart)
            poststop = joined(poststop, other.poststop)
        }
    }
}

extension RuntimeSpec.Linux {
    /// The container's resctrl class of service.
    public struct IntelRdt: Codable, Sendable, Equatable {
        public var closID: String?
        public var l3CacheSchema: String?
        public var memBwSchema: String?
    }
}
