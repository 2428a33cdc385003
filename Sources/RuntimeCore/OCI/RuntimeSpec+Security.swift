/// The security parts of the OCI runtime spec: capabilities, seccomp. JSON keys are the spec's.
extension RuntimeSpec {
    /// `process.capabilities`: the five capability sets, names as `CAP_CHOWN`.
    public struct Capabilities: Codable, Sendable, Equatable {
        public var bounding: [String]
        public var effective: [String]
        public var permitted: [String]
        public var inheritable: [String]?
        public var ambient: [String]?

        /// The same set for bounding, effective and permitted (what CRI runtimes give a
        /// container process); inheritable and ambient stay empty, as in containerd and cri-o.
        public init(_ names: [String]) {
            bounding = names
            effective = names
            permitted = names
            inheritable = nil
            ambient = nil
        }
    }

    /// `linux.seccomp`.
    public struct Seccomp: Codable, Sendable, Equatable {
        public struct Argument: Codable, Sendable, Equatable {
            public var index: UInt
            public var value: UInt64
            public var valueTwo: UInt64?
            /// SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ, …
            public var op: String

            public init(index: UInt, value: UInt64, valueTwo: UInt64? = nil, op: String) {
                self.index = index
                self.value = value
                self.valueTwo = valueTwo
                self.op = op
            }
        }

        public struct Rule: Codable, Sendable, Equatable {
            public var names: [String]
            /// SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, …
            public var action: String
            public var errnoRet: UInt?
            public var args: [Argument]?

            public init(names: [String], action: String, errnoRet: UInt? = nil, args: [Argument]? = nil) {
                self.names = names
                self.action = action
                self.errnoRet = errnoRet
                self.args = args
            }
        }

        public var defaultAction: String
        public var defaultErrnoRet: UInt?
        public var architectures: [String]?
        public var syscalls: [Rule]?

        public init(
            defaultAction: String,
            defaultErrnoRet: UInt? = nil,
            architectures: [String]? = nil,
            syscalls: [Rule]? = nil
        ) {
            self.defaultAction = defaultAction
            self.defaultErrnoRet = defaultErrnoRet
            self.architectures = architectures
            self.syscalls = syscalls
        }
    }
}
