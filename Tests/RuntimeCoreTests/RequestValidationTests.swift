import SkiffCommon
import Testing

@testable import RuntimeCore

/// The domain's request validation: each refusal names its field, each good counterpart passes.
struct RequestValidationTests {
    static func pod(_ configure: (inout SandboxSpec) -> Void = { _ in }) -> SandboxSpec {
        var spec = SandboxSpec(
            name: "web",
            namespace: "default",
            uid: "0b6c",
            hostname: "web-0",
            logDirectory: "/var/log/pods/default_web_0b6c"
        )
        configure(&spec)
        return spec
    }

    /// The refusal's message, or nil when `body` accepted.
    static func refusal(_ body: () throws(SkiffError) -> Void) -> String? {
        do throws(SkiffError) {
            try body()
            return nil
        } catch {
            #expect(error.code == .invalidArgument, "\(error)")
            return error.message
        }
    }

    static func expectRefused(
        _ spec: SandboxSpec,
        naming field: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let message = refusal { () throws(SkiffError) in try spec.validate() }
        #expect(
            message?.contains(field) == true,
            "expected a refusal naming \(field), got \(message ?? "acceptance")",
            sourceLocation: sourceLocation
        )
    }

    @Test func aPlainPodPasses() throws {
        try Self.pod().validate()
        try Self.pod {
            $0.hostNetwork = true
            $0.sysctls = ["kernel.shm_rmid_forced": "1"]
        }.validate()
        try Self.pod {
            $0.sysctls = [
                "net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ip_local_port_range": "1024\t65000",
                "net.ipv4.conf.eth0/100.forwarding": "1", "kernel.msgmax": "8192", "fs.mqueue.msg_max": "20",
            ]
        }.validate()
        try Self.pod {
            $0.dns = .init(
                servers: ["10.96.0.10", "fd00::a"],
                searches: ["default.svc.cluster.local", "cluster.local."],
                options: ["ndots:5", "edns0"]
            )
        }.validate()
        try Self.pod {
            $0.portMappings = [
                .init(containerPort: 80, hostPort: 8080, protocol: "tcp", hostIP: ""),
                .init(containerPort: 80, hostPort: 8080, protocol: "udp", hostIP: ""),
                .init(containerPort: 81, hostPort: 0, protocol: "tcp", hostIP: ""),
                .init(containerPort: 82, hostPort: 8082, protocol: "tcp", hostIP: "127.0.0.1"),
                .init(containerPort: 83, hostPort: 8082, protocol: "tcp", hostIP: "127.0.0.2"),
            ]
        }.validate()
        try Self.pod { $0.cgroupParent = "/kubepods/besteffort/pod0b6c" }.validate()
        // Dual stack: one port on every IPv4 and every IPv6 address is no duplicate.
        try Self.pod {
            $0.portMappings = [
                .init(containerPort: 80, hostPort: 80, protocol: "tcp", hostIP: "0.0.0.0"),
                .init(containerPort: 80, hostPort: 80, protocol: "tcp", hostIP: "::"),
            ]
        }.validate()
        // A host-network pod gets the node's name servers verbatim, zones included.
        try Self.pod { $0.dns = .init(servers: ["fe80::1%eth0"], searches: ["."], options: ["single-request-reopen"]) }
            .validate()
        try Self.pod { $0.hostname = String(repeating: "h", count: 64) }.validate()
    }

    @Test func sysctlsThatWouldChangeTheNodeAreRefused() {
        Self.expectRefused(Self.pod { $0.sysctls = ["kernel.panic": "77"] }, naming: "kernel.panic")
        Self.expectRefused(Self.pod { $0.sysctls = ["vm.overcommit_memory": "1"] }, naming: "vm.overcommit_memory")
        Self.expectRefused(
            Self.pod {
                $0.hostIPC = true
                $0.sysctls = ["kernel.shm_rmid_forced": "1"]
            },
            naming: "IPC namespace"
        )
        Self.expectRefused(
            Self.pod {
                $0.hostNetwork = true
                $0.sysctls = ["net.ipv4.ip_forward": "1"]
            },
            naming: "network namespace"
        )
        for name in [
            "net/../kernel/panic", "net..ipv4", "net.ipv4.", ".net.ipv4", "net.ipv4.conf.eth0//1.x",
            "NET.ipv4.ip_forward", "net",
        ] {
            Self.expectRefused(Self.pod { $0.sysctls = [name: "1"] }, naming: "linux.sysctls key")
        }
        Self.expectRefused(Self.pod { $0.sysctls = ["net.ipv4.ip_forward": "1\n2"] }, naming: "linux.sysctls[")
        try? Self.pod { $0.sysctls = ["net.ipv4.ip_forward": "1\n"] }.validate()
        #expect(
            Self.refusal { () throws(SkiffError) in
                try Self.pod { $0.sysctls = ["net.ipv4.ip_forward": "1\n"] }.validate()
            } == nil,
            "a final newline is one line"
        )
    }

    @Test func dnsEntriesAreOneWellFormedWordEach() {
        Self.expectRefused(
            Self.pod { $0.dns = .init(servers: ["1.1.1.1\nnameserver 6.6.6.6"], searches: [], options: []) },
            naming: "dns_config.servers[0]"
        )
        Self.expectRefused(
            Self.pod { $0.dns = .init(servers: ["dns.example"], searches: [], options: []) },
            naming: "dns_config.servers[0]"
        )
        Self.expectRefused(
            Self.pod { $0.dns = .init(servers: [], searches: ["a.b", "x\nnameserver 6.6.6.6"], options: []) },
            naming: "dns_config.searches[1]"
        )
        Self.expectRefused(
            Self.pod { $0.dns = .init(servers: [], searches: [], options: ["ndots:5 rotate"]) },
            naming: "dns_config.options[0]"
        )
        Self.expectRefused(
            Self.pod { $0.dns = .init(servers: [], searches: [], options: ["a\nnameserver 6.6.6.6"]) },
            naming: "dns_config.options[0]"
        )
    }

    @Test func portsAreInRangeParsedAndClaimedOnce() {
        func mapping(
            _ container: Int32,
            _ host: Int32,
            _ proto: String = "tcp",
            _ ip: String = ""
        ) -> SandboxSpec.PortMapping {
            .init(containerPort: container, hostPort: host, protocol: proto, hostIP: ip)
        }
        Self.expectRefused(Self.pod { $0.portMappings = [mapping(0, 80)] }, naming: "port_mappings[0].container_port")
        Self.expectRefused(
            Self.pod { $0.portMappings = [mapping(70000, 80)] },
            naming: "port_mappings[0].container_port"
        )
        Self.expectRefused(Self.pod { $0.portMappings = [mapping(80, -80)] }, naming: "port_mappings[0].host_port")
        Self.expectRefused(
            Self.pod { $0.portMappings = [mapping(80, 8080, "tcp", "300.1.1.1")] },
            naming: "port_mappings[0].host_ip"
        )
        Self.expectRefused(
            Self.pod { $0.portMappings = [mapping(80, 8080), mapping(81, 8080, "tcp", "10.0.0.1")] },
            naming: "port_mappings[1]"
        )
        Self.expectRefused(
            Self.pod { $0.portMappings = [mapping(80, 8080, "tcp", "::"), mapping(81, 8080, "tcp", "fd00::1")] },
            naming: "port_mappings[1]"
        )
        Self.expectRefused(
            Self.pod { $0.dns = .init(servers: ["1.1.1.1%eth0"], searches: [], options: []) },
            naming: "dns_config.servers[0]"
        )
        Self.expectRefused(
            Self.pod { $0.unrecognized = [UnrecognizedValue(field: "port_mappings[0].protocol", rawValue: 7)] },
            naming: "port_mappings[0].protocol"
        )
    }

    @Test func pathsThatLeaveTheirPlaceAreRefused() {
        Self.expectRefused(Self.pod { $0.cgroupParent = "../../../../../../tmp/x" }, naming: "linux.cgroup_parent")
        Self.expectRefused(Self.pod { $0.cgroupParent = "/kubepods/../../tmp/x" }, naming: "linux.cgroup_parent")
        Self.expectRefused(Self.pod { $0.cgroupParent = "kubepods.slice" }, naming: "linux.cgroup_parent")
        Self.expectRefused(Self.pod { $0.logDirectory = "relative/logs" }, naming: "log_directory")
        Self.expectRefused(Self.pod { $0.logDirectory = "/var/log/pods/../../../etc" }, naming: "log_directory")
    }

    @Test func identityAndHostnameCannotInjectArgumentsOrLines() {
        Self.expectRefused(Self.pod { $0.name = "web;IP=10.0.0.9" }, naming: "metadata.name")
        Self.expectRefused(
            Self.pod { $0.namespace = String(repeating: "n", count: 1 << 20) },
            naming: "metadata.namespace"
        )
        Self.expectRefused(Self.pod { $0.uid = "" }, naming: "metadata.uid")
        Self.expectRefused(Self.pod { $0.hostname = "web\n6.6.6.6 evil" }, naming: "hostname")
        let message = Self.refusal { () throws(SkiffError) in
            try Self.pod { $0.namespace = String(repeating: "n", count: 1 << 20) }.validate()
        }
        #expect((message?.utf8.count ?? 0) < 300, "a megabyte is not echoed back")
    }

    @Test func unsupportedSecurityRequestsAreRefusedNotIgnored() {
        Self.expectRefused(Self.pod { $0.userNamespace = .init(mode: .container) }, naming: "userns_options")
        Self.expectRefused(
            Self.pod {
                $0.unrecognized = [
                    UnrecognizedValue(field: "linux.security_context.namespace_options.network", rawValue: 99)
                ]
            },
            naming: "namespace_options.network"
        )
    }

    // MARK: containers

    static let node = ContainerSpec.NodeFacts(
        cgroupLayout: .hybrid,
        hugepageSizes: ["2MB", "1GB"],
        apparmorEnabled: false
    )

    static func sandbox(privileged: Bool = false) -> PodSandbox {
        var sandbox = PodSandbox.placeholder(id: "p1", directory: "/run/skiff/sandboxes/p1")
        (sandbox.name, sandbox.namespace, sandbox.uid, sandbox.state) = ("web", "default", "0b6c", .ready)
        (sandbox.runtimeHandler, sandbox.hostname, sandbox.logDirectory) = ("runc", "web-0", "/var/log/pods/x")
        sandbox.privileged = privileged
        return sandbox
    }

    static func container(_ configure: (inout ContainerSpec) -> Void = { _ in }) -> ContainerSpec {
        var spec = ContainerSpec(name: "app", image: "busybox", command: ["/bin/sh"], logPath: "app/0.log")
        configure(&spec)
        return spec
    }

    static func expectRefused(
        _ spec: ContainerSpec,
        in sandbox: PodSandbox = sandbox(),
        naming field: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let message = refusal { () throws(SkiffError) in try spec.validate(in: sandbox, node: node) }
        #expect(
            message?.contains(field) == true,
            "expected a refusal naming \(field), got \(message ?? "acceptance")",
            sourceLocation: sourceLocation
        )
    }

    @Test func aPlainContainerPasses() throws {
        try Self.container().validate(in: Self.sandbox(), node: Self.node)
        try Self.container {
            $0.security.privileged = true
            $0.mounts = [
                .init(containerPath: "/data", hostPath: "/srv/data"),
                .init(containerPath: "/proc/cpuinfo", hostPath: "/var/lib/lxcfs/proc/cpuinfo"),
            ]
            $0.resources.cpuPeriod = 100_000
            $0.resources.cpuQuota = 50_000
            $0.resources.cpuShares = 512
            $0.resources.memoryLimitBytes = 64 << 20
            $0.resources.cpusetCpus = "0-1,3"
            $0.resources.hugepageLimits = ["2MB": 0]
            $0.resources.oomScoreAdj = -997
            $0.security.seccomp = .localhost("/var/lib/kubelet/seccomp/profile.json")
        }.validate(in: Self.sandbox(privileged: true), node: Self.node)
    }

    @Test func securityFieldsAreNeverSilentlyDowngraded() {
        Self.expectRefused(
            Self.container {
                $0.unrecognized = [UnrecognizedValue(field: "linux.security_context.seccomp.profile_type", rawValue: 9)]
            },
            naming: "seccomp.profile_type"
        )
        Self.expectRefused(Self.container { $0.security.privileged = true }, naming: "privileged")
        Self.expectRefused(Self.container { $0.userNamespace = .init(mode: .pod) }, naming: "userns_options")
        Self.expectRefused(Self.container { $0.security.apparmorProfile = "k8s-nginx" }, naming: "apparmor")
        Self.expectRefused(
            Self.container { $0.security.seccomp = .localhost("profile.json") },
            naming: "seccomp.localhost_ref"
        )
        Self.expectRefused(
            Self.container { $0.unrecognized = [UnrecognizedValue(field: "mounts[0].propagation", rawValue: -1)] },
            naming: "mounts[0].propagation"
        )
        Self.expectRefused(
            Self.container { $0.mounts = [.init(containerPath: "/data", hostPath: "", image: "busybox")] },
            naming: "mounts[0].readonly"
        )
        Self.expectRefused(
            Self.container {
                $0.mounts = [
                    .init(
                        containerPath: "/data",
                        hostPath: "",
                        readOnly: true,
                        image: "busybox",
                        imageSubPath: "a/../.."
                    )
                ]
            },
            naming: "mounts[0].image_sub_path"
        )
    }

    @Test func containerPathsStayInTheirPlace() {
        Self.expectRefused(Self.container { $0.logPath = "../../escape.log" }, naming: "log_path")
        Self.expectRefused(Self.container { $0.logPath = "/var/log/escape.log" }, naming: "log_path")
        Self.expectRefused(Self.container { $0.security.maskedPaths = ["proc/kcore"] }, naming: "masked_paths[0]")
        Self.expectRefused(Self.container { $0.security.readonlyPaths = ["/proc/../etc"] }, naming: "readonly_paths[0]")
        Self.expectRefused(
            Self.container { $0.mounts = [.init(containerPath: "/", hostPath: "/srv")] },
            naming: "mounts[0].container_path"
        )
        Self.expectRefused(
            Self.container { $0.mounts = [.init(containerPath: "/proc/sys/kernel", hostPath: "/srv")] },
            naming: "mounts[0].container_path"
        )
        Self.expectRefused(
            Self.container { $0.mounts = [.init(containerPath: "data", hostPath: "/srv")] },
            naming: "mounts[0].container_path"
        )
        Self.expectRefused(
            Self.container { $0.mounts = [.init(containerPath: "/data", hostPath: "srv")] },
            naming: "mounts[0].host_path"
        )
        Self.expectRefused(
            Self.container { $0.devices = [.init(containerPath: "/dev/x", hostPath: "/dev/null", permissions: "rwx")] },
            naming: "devices[0].permissions"
        )
        Self.expectRefused(Self.container { $0.workingDir = "tmp" }, naming: "working_dir")
        Self.expectRefused(Self.container { $0.env = [(key: "A=B", value: "1")] }, naming: "envs[0]")
        Self.expectRefused(Self.container { $0.command = ["/bin/sh\u{0}x"] }, naming: "command[0]")
    }

    @Test func resourcesAreInTheRangeTheKernelAccepts() {
        Self.expectRefused(Self.container { $0.resources.cpusetCpus = "abc" }, naming: "cpuset_cpus")
        Self.expectRefused(Self.container { $0.resources.cpusetCpus = "3-1" }, naming: "cpuset_cpus")
        Self.expectRefused(Self.container { $0.resources.cpusetMems = "0,,1" }, naming: "cpuset_mems")
        Self.expectRefused(Self.container { $0.resources.cpuPeriod = 1 }, naming: "cpu_period")
        Self.expectRefused(Self.container { $0.resources.cpuQuota = 5 }, naming: "cpu_quota")
        Self.expectRefused(Self.container { $0.resources.cpuShares = 1 }, naming: "cpu_shares")
        Self.expectRefused(Self.container { $0.resources.memoryLimitBytes = 1 }, naming: "memory_limit_in_bytes")
        Self.expectRefused(
            Self.container {
                $0.resources.memoryLimitBytes = 64 << 20
                $0.resources.memorySwapLimitBytes = 1 << 20
            },
            naming: "memory_swap_limit_in_bytes"
        )
        Self.expectRefused(Self.container { $0.resources.oomScoreAdj = -5000 }, naming: "oom_score_adj")
        Self.expectRefused(Self.container { $0.resources.hugepageLimits = ["3MB": 1] }, naming: "hugepage_limits")
        Self.expectRefused(Self.container { $0.resources.unified = ["memory.high": "1G"] }, naming: "unified")
    }

    @Test func hugepageDirectoriesBecomeTheKubeletsSizes() {
        #expect(ContainerSpec.NodeFacts.hugepageSize(directoryName: "hugepages-2048kB") == "2MB")
        #expect(ContainerSpec.NodeFacts.hugepageSize(directoryName: "hugepages-1048576kB") == "1GB")
        #expect(ContainerSpec.NodeFacts.hugepageSize(directoryName: "hugepages-64kB") == "64KB")
        #expect(ContainerSpec.NodeFacts.hugepageSize(directoryName: "nr_hugepages") == nil)
    }
}
