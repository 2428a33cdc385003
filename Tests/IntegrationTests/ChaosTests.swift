import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import ImageFixtures
import Testing

/// skiffd SIGKILLed ten times at random moments while twenty clients create and remove pods
/// (networked, runc and crun, some sharing a PID namespace with a pause process, some with a
/// host port) and containers, retrying every call the outage interrupted as the kubelet does —
/// same name, uid and attempt. Afterwards every object the clients were told exists must be
/// listed once with a true state, and removing everything through the CRI must leave nothing:
/// no mount, namespace, process, cgroup, NAT rule, IP allocation, veth or file.
@Suite(.serialized) struct ChaosTests {
    static let workerCount = 20
    static let killCount = 10
    /// Pods the clients leave running for the final check (the rest are stopped and removed).
    static let keptPodLimit = 24
    /// A call to a daemon that stays up must answer within this.
    static let rpcTimeout: Duration = .seconds(30)
    /// A call to a killed skiffd should fail at once; it is abandoned this long after the kill.
    static let abandonGrace: Duration = .seconds(2)

    typealias Client = Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>

    /// What the chaos task tells the clients: whether skiffd is up, and how many times it was
    /// killed (an error during a call is the outage's when the count moved or skiffd is down).
    actor Gate {
        private(set) var generation = 0
        private(set) var up = true
        private(set) var finished = false
        private var failure: String?
        private var waiters: [CheckedContinuation<Void, Never>] = []
        /// Calls in flight waiting to learn that skiffd is being killed, by token.
        private var killWatchers: [Int: CheckedContinuation<Void, Never>] = [:]
        private var nextToken = 0

        func goingDown() {
            generation += 1
            up = false
            let watching = killWatchers
            killWatchers = [:]
            for watcher in watching.values { watcher.resume() }
        }

        func token() -> Int {
            defer { nextToken += 1 }
            return nextToken
        }

        /// Returns when skiffd is killed after `generation`, or when the waiting task is cancelled.
        func waitForKill(after generation: Int, token: Int) async {
            guard self.generation == generation, !Task.isCancelled else { return }
            await withCheckedContinuation { killWatchers[token] = $0 }
        }

        func stopWatching(_ token: Int) {
            killWatchers.removeValue(forKey: token)?.resume()
        }

        func cameUp(last: Bool) {
            up = true
            if last { finished = true }
            wakeAll()
        }

        func fail(_ reason: String) {
            failure = reason
            finished = true
            wakeAll()
        }

        /// Returns once skiffd answers again, with the current kill count.
        func waitUntilUp() async throws -> Int {
            while !up && failure == nil {
                await withCheckedContinuation { waiters.append($0) }
            }
            if let failure { throw HarnessError("the chaos task failed: \(failure)") }
            return generation
        }

        func outage(since generation: Int) -> Bool { !up || self.generation != generation }

        private func wakeAll() {
            let waiting = waiters
            waiters = []
            for waiter in waiting { waiter.resume() }
        }
    }

    /// Everything the daemon answered, as the clients saw it.
    actor Ledger {
        struct Pod: Sendable {
            var name: String
            var handler: String
            var sharedPID: Bool
            var hostPort: Int32?
            /// Learnt from an ALREADY_EXISTS answer to a retry (the first call's answer was lost).
            var adopted: Bool
            var stopped = false
            var removed = false
            /// A call on it was refused: its state is not asserted, only its presence.
            var uncertain = false
        }

        struct Container: Sendable {
            var podID: String
            var name: String
            var attempt: UInt32
            var adopted: Bool
            var started = false
            var stopped = false
            var removed = false
            var uncertain = false
        }

        var pods: [String: Pod] = [:]
        var containers: [String: Container] = [:]
        var counters: [String: Int] = [:]
        var findings: [String] = []
        /// Processes that still held one of skiffd's sockets after it was SIGKILLed.
        var socketHolders: [String] = []
        private var sequence = 0
        private var kept = 0

        func nextSequence() -> Int {
            defer { sequence += 1 }
            return sequence
        }

        func reserveKeptPod() -> Bool {
            guard kept < ChaosTests.keptPodLimit else { return false }
            kept += 1
            return true
        }

        func count(_ what: String) { counters[what, default: 0] += 1 }
        func socketHeld(_ holder: String, kill: Int) { socketHolders.append("kill \(kill): \(holder)") }
        func finding(_ text: String) { findings.append(text) }

        func podCreated(_ id: String, _ pod: Pod) { pods[id] = pod }
        func podStopped(_ id: String) {
            pods[id]?.stopped = true
            for (containerID, container) in containers where container.podID == id {
                containers[containerID]?.stopped = true
            }
        }
        func podRemoved(_ id: String) {
            pods[id]?.removed = true
            for (containerID, container) in containers where container.podID == id {
                containers[containerID]?.removed = true
            }
        }
        func podUncertain(_ id: String) { pods[id]?.uncertain = true }
        func containerCreated(_ id: String, _ container: Container) { containers[id] = container }
        func containerStarted(_ id: String) { containers[id]?.started = true }
        func containerStopped(_ id: String) { containers[id]?.stopped = true }
        func containerRemoved(_ id: String) { containers[id]?.removed = true }
        func containerUncertain(_ id: String) { containers[id]?.uncertain = true }
    }

    /// One run: the daemon, what the clients share, and their calls.
    struct Run: Sendable {
        let daemon: DaemonHarness
        let network: PodSandboxTests.Network
        let image: String
        let cgroupParent: String
        let gate = Gate()
        let ledger = Ledger()
        /// No new pod after this (nor after the last restart); no retry after `giveUp`.
        let stopCreating: ContinuousClock.Instant
        let giveUp: ContinuousClock.Instant
        /// Host ports of the run's pods: portBase + their sequence number.
        let portBase = RunUnique.hostPorts(1000)

        /// Calls skiffd; retries what an outage interrupted (same request), after waiting for
        /// the restart. Returns the daemon's answer, success or refusal, and whether it took retries.
        func rpc<Response: Sendable>(
            _ what: String,
            _ body: @escaping @Sendable (Client, CallOptions) async throws -> Response
        )
            async throws -> (answer: Result<Response, RPCError>, retried: Bool)
        {
            let options = {
                var options = CallOptions.defaults
                options.timeout = ChaosTests.rpcTimeout
                return options
            }()
            var retried = false
            while true {
                guard ContinuousClock.now < giveUp else {
                    throw HarnessError("\(what): still unanswered at the test's deadline")
                }
                let generation = try await gate.waitUntilUp()
                do {
                    return (
                        .success(
                            try await callUnlessKilled(generation: generation) {
                                try await daemon.runtime { try await body($0, options) }
                            }
                        ), retried
                    )
                } catch {
                    if await gate.outage(since: generation) {
                        retried = true
                        await ledger.count("calls retried after an outage")
                        if error is Abandoned {
                            await ledger.count(
                                "calls abandoned: still unanswered \(ChaosTests.abandonGrace) after skiffd's SIGKILL"
                            )
                        }
                        continue
                    }
                    let refusal = (error as? RPCError) ?? RPCError(code: .unknown, message: "\(error)")
                    return (.failure(refusal), retried)
                }
            }
        }

        struct Abandoned: Error {}

        /// Runs `call`; if skiffd is killed meanwhile and the call is still unanswered
        /// `abandonGrace` later, gives up on it (its connection should have failed at once; see
        /// the socket holders), so the client goes on like one that noticed the daemon's restart.
        func callUnlessKilled<Response: Sendable>(
            generation: Int,
            _ call: @escaping @Sendable () async throws -> Response
        ) async throws -> Response {
            let gate = self.gate
            return try await withThrowingTaskGroup(of: Response?.self) { group in
                group.addTask { try await call() }
                group.addTask {
                    let token = await gate.token()
                    await withTaskCancellationHandler {
                        await gate.waitForKill(after: generation, token: token)
                    } onCancel: {
                        Task { await gate.stopWatching(token) }
                    }
                    try await Task.sleep(for: ChaosTests.abandonGrace)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else { throw Abandoned() }
                return response
            }
        }

        /// Records a bug: the test fails, with skiffd's log lines about `ids`.
        func finding(_ text: String, ids: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) async {
            let evidence = ChaosTests.logLines(of: daemon, mentioning: ids, limit: 12)
            let full = evidence.isEmpty ? text : text + "\n  skiffd log:\n    " + evidence.joined(separator: "\n    ")
            await ledger.finding(full)
            Issue.record(Comment(rawValue: full), sourceLocation: sourceLocation)
        }

        // MARK: The clients

        func worker(_ index: Int) async {
            var iteration = 0
            while ContinuousClock.now < stopCreating, await !gate.finished {
                let sequence = await ledger.nextSequence()
                do {
                    try await podLifecycle(worker: index, iteration: iteration, sequence: sequence)
                } catch {
                    await finding("worker \(index): \(error)")
                    return
                }
                iteration += 1
            }
        }

        /// One pod from RunPodSandbox to RemovePodSandbox (or kept running), like the kubelet.
        func podLifecycle(worker: Int, iteration: Int, sequence: Int) async throws {
            let name = "chaos-\(worker)-\(iteration)"
            let handler = (sequence + sequence / 4) % 2 == 0 ? "runc" : "crun"
            let sharedPID = sequence % 4 == 0
            var config = PodSandboxTests.config(name)
            config.metadata.namespace = "skiff-chaos"
            config.labels["suite"] = "chaos"
            config.logDirectory = daemon.directory + "/logs/" + name
            config.linux.cgroupParent = cgroupParent
            config.linux.securityContext.namespaceOptions.pid = sharedPID ? .pod : .container
            var hostPort: Int32?
            if sequence % 3 == 1 {
                var mapping = Runtime_V1_PortMapping()
                mapping.containerPort = 8080
                mapping.hostPort = portBase + Int32(sequence)
                mapping.protocol = .tcp
                config.portMappings = [mapping]
                hostPort = mapping.hostPort
            }
            var request = Runtime_V1_RunPodSandboxRequest()
            request.config = config
            request.runtimeHandler = handler
            let run = try await rpc("RunPodSandbox \(name)") { [request] in
                try await $0.runPodSandbox(request, options: $1).podSandboxID
            }
            let podID: String
            switch run.answer {
            case .success(let id):
                podID = id
                await ledger.podCreated(
                    id,
                    .init(name: name, handler: handler, sharedPID: sharedPID, hostPort: hostPort, adopted: false)
                )
            case .failure(let error) where error.code == .alreadyExists && run.retried:
                // The first call made the pod but its answer was lost with the daemon.
                guard let holder = ChaosTests.holder(in: error.message) else {
                    await finding(
                        "RunPodSandbox \(name) retried after an outage: ALREADY_EXISTS without the holder's id: \(error.message)",
                        ids: [name]
                    )
                    return
                }
                podID = holder
                await ledger.count("creations adopted from ALREADY_EXISTS")
                await ledger.podCreated(
                    holder,
                    .init(name: name, handler: handler, sharedPID: sharedPID, hostPort: hostPort, adopted: true)
                )
            case .failure(let error):
                await finding(
                    "RunPodSandbox \(name) (\(handler), shared PID \(sharedPID), port \(hostPort.map(String.init) ?? "none"), retried \(run.retried)) refused: \(error.code) \(error.message)",
                    ids: [name]
                )
                return
            }

            let harness = ContainerHarness(
                daemon: daemon,
                image: image,
                podID: podID,
                logDirectory: config.logDirectory
            )
            guard
                let first = try await createAndStart(
                    harness,
                    pod: podID,
                    podName: name,
                    attempt: 0,
                    sharedPID: sharedPID
                )
            else { return }
            if Bool.random() {
                guard
                    try await call(
                        "StopContainer",
                        first,
                        {
                            var r = Runtime_V1_StopContainerRequest()
                            r.containerID = first
                            r.timeout = Int64.random(in: 0...1)
                            _ = try await $0.stopContainer(r, options: $1)
                        }
                    )
                else { return }
                await ledger.containerStopped(first)
                if Bool.random() {
                    guard
                        try await call(
                            "RemoveContainer",
                            first,
                            {
                                var r = Runtime_V1_RemoveContainerRequest()
                                r.containerID = first
                                _ = try await $0.removeContainer(r, options: $1)
                            }
                        )
                    else { return }
                    await ledger.containerRemoved(first)
                }
                // The kubelet restarts it: the next attempt.
                guard
                    try await createAndStart(harness, pod: podID, podName: name, attempt: 1, sharedPID: sharedPID)
                        != nil
                else { return }
            }
            if Int.random(in: 0..<5) == 0, await ledger.reserveKeptPod() { return }
            guard
                try await call(
                    "StopPodSandbox",
                    podID,
                    pod: true,
                    {
                        var r = Runtime_V1_StopPodSandboxRequest()
                        r.podSandboxID = podID
                        _ = try await $0.stopPodSandbox(r, options: $1)
                    }
                )
            else { return }
            await ledger.podStopped(podID)
            guard
                try await call(
                    "RemovePodSandbox",
                    podID,
                    pod: true,
                    {
                        var r = Runtime_V1_RemovePodSandboxRequest()
                        r.podSandboxID = podID
                        _ = try await $0.removePodSandbox(r, options: $1)
                    }
                )
            else { return }
            await ledger.podRemoved(podID)
        }

        /// An idempotent call on `id`; false (and a finding) when skiffd refused it.
        func call(
            _ what: String,
            _ id: String,
            pod: Bool = false,
            _ body: @escaping @Sendable (Client, CallOptions) async throws -> Void
        ) async throws -> Bool {
            let result = try await rpc("\(what) \(id)", body)
            guard case .failure(let error) = result.answer else { return true }
            await finding(
                "\(what) \(id) (retried \(result.retried)) refused: \(error.code) \(error.message)",
                ids: [id]
            )
            if pod { await ledger.podUncertain(id) } else { await ledger.containerUncertain(id) }
            return false
        }

        /// CreateContainer + StartContainer of `sleeper` (attempt `attempt`); its id, or nil after a refusal.
        func createAndStart(
            _ harness: ContainerHarness,
            pod: String,
            podName: String,
            attempt: UInt32,
            sharedPID: Bool
        ) async throws -> String? {
            var request = Runtime_V1_CreateContainerRequest()
            request.podSandboxID = pod
            request.config = harness.config("sleeper", ["/bin/sleep", "1000"]) { config in
                config.metadata.attempt = attempt
                config.logPath = "sleeper/\(attempt).log"
                config.linux.securityContext.namespaceOptions.pid = sharedPID ? .pod : .container
            }
            let created = try await rpc("CreateContainer \(podName)/sleeper/\(attempt)") { [request] in
                try await $0.createContainer(request, options: $1).containerID
            }
            let id: String
            switch created.answer {
            case .success(let containerID):
                id = containerID
                await ledger.containerCreated(id, .init(podID: pod, name: "sleeper", attempt: attempt, adopted: false))
            case .failure(let error) where error.code == .alreadyExists && created.retried:
                guard let holder = ChaosTests.holder(in: error.message) else {
                    await finding(
                        "CreateContainer sleeper/\(attempt) in \(pod) retried after an outage: ALREADY_EXISTS without the holder's id: \(error.message)",
                        ids: [pod]
                    )
                    return nil
                }
                id = holder
                await ledger.count("creations adopted from ALREADY_EXISTS")
                await ledger.containerCreated(id, .init(podID: pod, name: "sleeper", attempt: attempt, adopted: true))
            case .failure(let error):
                await finding(
                    "CreateContainer sleeper/\(attempt) in pod \(pod) (\(podName), retried \(created.retried)) refused: \(error.code) \(error.message)",
                    ids: [pod]
                )
                return nil
            }
            var start = Runtime_V1_StartContainerRequest()
            start.containerID = id
            let started = try await rpc("StartContainer \(id)") { [start] in
                _ = try await $0.startContainer(start, options: $1)
            }
            switch started.answer {
            case .success:
                await ledger.containerStarted(id)
                return id
            case .failure(let error) where error.code == .failedPrecondition && started.retried:
                // The first call may have started it before the daemon died: ask.
                var status = Runtime_V1_ContainerStatusRequest()
                status.containerID = id
                let state = try await rpc("ContainerStatus \(id)") { [status] in
                    try await $0.containerStatus(status, options: $1).status.state
                }
                if case .success(let state) = state.answer, state == .containerRunning || state == .containerExited {
                    await ledger.count("starts found done by the lost call")
                    await ledger.containerStarted(id)
                    return id
                }
                await finding(
                    "StartContainer \(id) retried after an outage refused: \(error.message); the container is \(String(describing: try? state.answer.get()))",
                    ids: [id]
                )
            case .failure(let error):
                await finding(
                    "StartContainer \(id) (\(podName), attempt \(attempt), retried \(started.retried)) refused: \(error.code) \(error.message)",
                    ids: [id]
                )
            }
            await ledger.containerUncertain(id)
            return nil
        }

        // MARK: The chaos

        /// Kills skiffd at random moments and restarts it; the clients wait for each restart.
        func chaos() async -> [Duration] {
            var restarts: [Duration] = []
            for kill in 1...ChaosTests.killCount {
                do {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 300...2000)))
                    await gate.goingDown()
                    let pid = daemon.process?.processIdentifier ?? 0
                    let sockets = ChaosTests.socketInodes(of: pid)
                    try await daemon.stop(signal: SIGKILL)
                    // A dead daemon's connections must close: its clients wait for answers until then.
                    for holder in ChaosTests.processes(holding: sockets) { await ledger.socketHeld(holder, kill: kill) }
                    let started = ContinuousClock.now
                    try await daemon.start()
                    restarts.append(ContinuousClock.now - started)
                    await gate.cameUp(last: kill == ChaosTests.killCount)
                } catch {
                    await finding("restart \(kill) of skiffd failed: \(error)")
                    await gate.fail("\(error)")
                    return restarts
                }
            }
            return restarts
        }
    }

    // MARK: The test

    @Test(.timeLimit(.minutes(4)))
    func twentyClientsAndTenSIGKILLsOfTheDaemonLeaveTrueStateAndNothingBehind() async throws {
        let began = ContinuousClock.now
        let registry = try await TestRegistry.start()
        defer { registry.stop() }
        try await registry.withPusher {
            try await $0.push(
                BusyboxImages.standard(busybox: ContainerHarness.busybox),
                repository: "skiff/busybox",
                tag: "1.0"
            )
        }
        let cgroupParent = "/skiff-chaos-" + UUID().uuidString.prefix(8).lowercased()
        // What is not under the daemon's directory (DaemonHarness.cleanUp's part); runs after it
        // has killed skiffd and its containers.
        var directory: String?
        var bridge: String?
        defer {
            Self.removeCgroups(under: cgroupParent)
            if let bridge { Self.removeNATRules(of: bridge) }
            if let directory { Self.removeDirectory(directory) }
        }
        try await PodSandboxTests.withNetworkedDaemon { daemon, network in
            directory = daemon.directory
            bridge = network.bridge
            // A /22 instead of the /24: every RunPodSandbox a kill interrupts may hold an address.
            // (The network config is read at each RunPodSandbox.)
            let subnet = "10.252.\(Int.random(in: 0...63) * 4).0/22"
            try network.conflist(ipamDir: daemon.directory + "/ipam").replacingOccurrences(
                of: network.subnet,
                with: subnet
            )
            .write(toFile: daemon.cniConfDir + "/10-test.conflist", atomically: true, encoding: .utf8)
            var pull = Runtime_V1_PullImageRequest()
            pull.image.image = "\(registry.host)/skiff/busybox:1.0"
            let image = try await daemon.images { try await $0.pullImage(pull) }.imageRef
            let run = Run(
                daemon: daemon,
                network: network,
                image: image,
                cgroupParent: cgroupParent,
                stopCreating: ContinuousClock.now + .seconds(100),
                giveUp: ContinuousClock.now + .seconds(150)
            )
            do {
                try await Self.scenario(run, began: began)
            } catch {
                Self.keepLogs(of: daemon)
                throw error
            }
            if await !run.ledger.findings.isEmpty { Self.keepLogs(of: daemon) }
        }
    }

    static func scenario(_ run: Run, began: ContinuousClock.Instant) async throws {
        let daemon = run.daemon
        let chaosBegan = ContinuousClock.now
        let restarts = await withTaskGroup(of: [Duration]?.self) { group in
            group.addTask { await run.chaos() }
            for index in 0..<workerCount {
                group.addTask {
                    await run.worker(index)
                    return nil
                }
            }
            var restarts: [Duration] = []
            for await result in group { if let result { restarts = result } }
            return restarts
        }
        let chaosTook = ContinuousClock.now - chaosBegan
        let holders = await run.ledger.socketHolders
        if !holders.isEmpty {
            await run.finding(
                """
                after skiffd was SIGKILLed, its sockets (listening socket and/or client connections) stayed open in \(holders.count) \
                process(es), so clients' calls hang until their deadline instead of failing: \(holders.prefix(10))
                """
            )
        }
        guard restarts.count == killCount, daemon.process != nil else {
            throw HarnessError("skiffd was restarted \(restarts.count) of \(killCount) times; see the findings")
        }

        // 1. What the clients were told exists is listed, once, with a true state.
        let pods = try await daemon.runtime { try await $0.listPodSandbox(.init()) }.items
        let containers = try await daemon.runtime { try await $0.listContainers(.init()) }.containers
        let ledgerPods = await run.ledger.pods
        let ledgerContainers = await run.ledger.containers
        let members = cgroupMembers(under: run.cgroupParent)
        let mounts = mountLines(under: daemon.directory)
        for (key, group) in Dictionary(
            grouping: pods,
            by: { "\($0.metadata.namespace)/\($0.metadata.name)/\($0.metadata.uid)/\($0.metadata.attempt)" }
        ) where group.count > 1 {
            await run.finding("pod \(key) is listed \(group.count) times: \(group.map(\.id))", ids: group.map(\.id))
        }
        for (key, group) in Dictionary(
            grouping: containers,
            by: { "\($0.podSandboxID)/\($0.metadata.name)/\($0.metadata.attempt)" }
        ) where group.count > 1 {
            await run.finding(
                "container \(key) is listed \(group.count) times: \(group.map(\.id))",
                ids: group.map(\.id)
            )
        }
        for (id, group) in Dictionary(grouping: pods.map(\.id) + containers.map(\.id), by: { $0 }) where group.count > 1
        {
            await run.finding("\(id) is listed \(group.count) times", ids: [id])
        }
        for (id, pod) in ledgerPods.sorted(by: { $0.key < $1.key }) where !pod.removed {
            let listed = pods.filter { $0.id == id }
            guard let only = listed.first, listed.count == 1 else {
                await run.finding(
                    "pod \(id) (\(pod.name), \(pod.handler)\(pod.adopted ? ", adopted" : "")) was answered as created and never removed, but is listed \(listed.count) times",
                    ids: [id]
                )
                continue
            }
            let expected: Runtime_V1_PodSandboxState = pod.stopped ? .sandboxNotready : .sandboxReady
            if only.state == .sandboxReady, !mounts.contains(where: { $0.contains("/sandboxes/\(id)/ns/net ") }) {
                await run.finding(
                    "pod \(id) (\(pod.name)) is READY but its network namespace is not mounted",
                    ids: [id]
                )
            }
            if only.state == .sandboxReady, pod.sharedPID,
                !(members["pause-" + id] ?? []).contains(where: { $0.hasSuffix(" pause") })
            {
                await run.finding(
                    "pod \(id) (\(pod.name), \(pod.handler)\(pod.adopted ? ", adopted after an outage" : "")) shares its PID namespace and is READY, but no pause process runs in its cgroup",
                    ids: [id]
                )
            }
            if !pod.uncertain, only.state != expected {
                let reasons = logLines(of: daemon, mentioning: [id], limit: 40).filter {
                    $0.contains("not ready") || $0.contains("lost") || $0.contains("gone")
                }
                await run.finding(
                    "pod \(id) (\(pod.name), \(pod.handler), shared PID \(pod.sharedPID)) is \(only.state), expected \(expected); reason in the log: \(reasons.isEmpty ? "none" : reasons.joined(separator: " | "))",
                    ids: [id]
                )
            }
        }
        for (id, container) in ledgerContainers.sorted(by: { $0.key < $1.key })
        where !container.removed && ledgerPods[container.podID]?.removed != true {
            let listed = containers.filter { $0.id == id }
            guard let only = listed.first, listed.count == 1 else {
                await run.finding(
                    "container \(id) (\(container.name)/\(container.attempt) of pod \(container.podID)) was answered as created and never removed, but is listed \(listed.count) times",
                    ids: [id]
                )
                continue
            }
            // The state must be true whatever the client knows; what the client was answered
            // is checked unless a call on the container or its pod was refused.
            let known = !container.uncertain && ledgerPods[container.podID]?.uncertain != true
            let running = (members[id] ?? []).filter { $0.hasSuffix(" sleep") }
            let what =
                "container \(id) (attempt \(container.attempt) in pod \(container.podID), \(ledgerPods[container.podID]?.handler ?? "?"))"
            switch only.state {
            case .containerRunning:
                if known && container.stopped {
                    await run.finding("\(what) was stopped (answered) but is listed RUNNING", ids: [id])
                }
                if running.isEmpty {
                    await run.finding("\(what) is listed RUNNING but no process runs in its cgroup", ids: [id])
                }
            case .containerExited:
                var request = Runtime_V1_ContainerStatusRequest()
                request.containerID = id
                let status = try await daemon.runtime { try await $0.containerStatus(request) }.status
                if status.finishedAt == 0 {
                    await run.finding(
                        "\(what) is EXITED without a finish time (exit code \(status.exitCode))",
                        ids: [id]
                    )
                }
                if !running.isEmpty {
                    await run.finding(
                        "\(what) is listed EXITED (code \(status.exitCode), \(status.reason): \(status.message)) but its sleep still runs: \(running)",
                        ids: [id]
                    )
                }
                if known && !container.stopped {
                    // Allowed when true (checked above), but worth a line: nobody stopped it.
                    print(
                        "ChaosTests: \(what) was never stopped but is EXITED with code \(status.exitCode) (\(status.reason): \(status.message))"
                    )
                }
            case .containerCreated:
                if !running.isEmpty {
                    await run.finding("\(what) is listed CREATED but its sleep runs: \(running)", ids: [id])
                } else if known && container.started {
                    await run.finding(
                        "\(what) was started (answered) but is listed CREATED; processes in its cgroup: \(members[id] ?? [])",
                        ids: [id]
                    )
                }
            default:
                await run.finding("\(what) is listed \(only.state)", ids: [id])
            }
        }
        let unknownPods = pods.filter { ledgerPods[$0.id] == nil }
        let unknownContainers = containers.filter { ledgerContainers[$0.id] == nil }
        if !unknownPods.isEmpty || !unknownContainers.isEmpty {
            print(
                "ChaosTests: listed but never answered to a client (creations whose answer was lost): pods \(unknownPods.map { "\($0.id) \($0.metadata.name)" }), containers \(unknownContainers.map(\.id))"
            )
        }

        // 2. Remove everything through the CRI.
        var seenIDs = Set(ledgerPods.keys).union(ledgerContainers.keys).union(pods.map(\.id)).union(
            containers.map(\.id)
        )
        seenIDs.formUnion(stateEntries(of: daemon).map { ($0 as NSString).lastPathComponent })
        for pod in pods {
            var stop = Runtime_V1_StopPodSandboxRequest()
            stop.podSandboxID = pod.id
            var remove = Runtime_V1_RemovePodSandboxRequest()
            remove.podSandboxID = pod.id
            // RemovePodSandbox even when StopPodSandbox fails: it must clean up on its own.
            do {
                _ = try await daemon.runtime { try await $0.stopPodSandbox(stop) }
            } catch {
                await run.finding(
                    "StopPodSandbox \(pod.id) (listed \(pod.state)) after the chaos failed: \(error)",
                    ids: [pod.id]
                )
            }
            do {
                _ = try await daemon.runtime { try await $0.removePodSandbox(remove) }
            } catch {
                await run.finding(
                    "RemovePodSandbox \(pod.id) (listed \(pod.state)) after the chaos failed: \(error)",
                    ids: [pod.id]
                )
            }
        }
        for container in containers where !pods.contains(where: { $0.id == container.podSandboxID }) {
            await run.finding(
                "container \(container.id) is listed in pod \(container.podSandboxID), which is not listed",
                ids: [container.id]
            )
            var request = Runtime_V1_RemoveContainerRequest()
            request.containerID = container.id
            _ = try? await daemon.runtime { try await $0.removeContainer(request) }
        }
        let podsLeft = try await daemon.runtime { try await $0.listPodSandbox(.init()) }.items
        let containersLeft = try await daemon.runtime { try await $0.listContainers(.init()) }.containers
        if !podsLeft.isEmpty || !containersLeft.isEmpty {
            await run.finding(
                "listed after removing everything: pods \(podsLeft.map(\.id)), containers \(containersLeft.map(\.id))",
                ids: podsLeft.map(\.id) + containersLeft.map(\.id)
            )
        }

        // 3. Nothing of any of them is left on the node.
        try await checkNothingLeft(run, ids: seenIDs)

        let counters = await run.ledger.counters
        let podsMade = ledgerPods.count
        print(
            """
            ChaosTests: \(podsMade) pods and \(ledgerContainers.count) containers answered as created \
            (\(ledgerPods.values.filter(\.sharedPID).count) with a pause, \(ledgerPods.values.filter { $0.hostPort != nil }.count) with a host port, \
            \(ledgerPods.values.filter { $0.handler == "crun" }.count) crun), \(ledgerPods.values.filter { !$0.removed }.count) kept to the end; \
            \(counters.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")); \
            chaos \(seconds(chaosTook)), restarts \(restarts.map(seconds)), whole test \(seconds(ContinuousClock.now - began))
            """
        )
    }

    /// No mount, namespace, process, cgroup, NAT rule, IP, veth or file of the run is left.
    static func checkNothingLeft(_ run: Run, ids: Set<String>) async throws {
        let daemon = run.daemon
        // Processes exit just after their removal answered: bounded wait.
        let daemonPID = daemon.process.map { "\($0.processIdentifier): " } ?? "-"
        var processesLeft: [String] = []
        var membersLeft: [String: [String]] = [:]
        for _ in 0..<50 {
            processesLeft = ContainerHarness.processes(mentioning: daemon.directory).filter { !$0.hasPrefix(daemonPID) }
            membersLeft = cgroupMembers(under: run.cgroupParent)
            if processesLeft.isEmpty && membersLeft.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        if !processesLeft.isEmpty {
            await run.finding("processes mentioning the daemon dir left: \(processesLeft)", ids: [])
        }
        if !membersLeft.isEmpty {
            await run.finding("processes left in skiff-<id> cgroups: \(membersLeft)", ids: Array(membersLeft.keys))
        }

        // Mount points under the daemon's directory (leftovers() matches any field), by kind.
        let mounts = mountLines(under: daemon.directory)
        if !mounts.isEmpty {
            let kinds = Dictionary(grouping: mounts) { line in
                line.split(separator: " - ").last?.split(separator: " ").first.map(String.init) ?? "?"
            }.map { "\($0.value.count) \($0.key)" }
            await run.finding(
                "\(mounts.count) mounts left under \(daemon.directory) (\(kinds.sorted())), of \(Set(mountIDs(mounts)).count) objects: \(mounts.prefix(4))",
                ids: mountIDs(mounts)
            )
        }

        let cgroups = cgroupDirectories(under: run.cgroupParent)
        if !cgroups.isEmpty {
            await run.finding(
                "cgroups left: \(cgroups.prefix(12))",
                ids: cgroups.map { String(($0 as NSString).lastPathComponent.dropFirst("skiff-".count)) }
            )
        }

        let nat = natRules().filter { rule in
            rule.contains(run.network.bridge) || ids.contains(where: { rule.contains($0) })
        }
        if !nat.isEmpty {
            await run.finding(
                "\(nat.count) iptables nat rules of the run's pods left, e.g. \(nat.prefix(3))",
                ids: Array(natIDs(nat).prefix(4))
            )
        }

        let ipamDirectory = daemon.directory + "/ipam/" + run.network.bridge
        let addresses =
            (try? FileManager.default.contentsOfDirectory(atPath: ipamDirectory))?.filter {
                $0 != "lock" && !$0.hasPrefix("last_reserved_ip")
            } ?? []
        if !addresses.isEmpty {
            let owners = addresses.map {
                "\($0) → \(((try? String(contentsOfFile: ipamDirectory + "/" + $0, encoding: .utf8)) ?? "?").split(whereSeparator: \.isNewline).first ?? "")"
            }
            await run.finding(
                "\(owners.count) IP addresses still allocated by host-local, e.g. \(owners.prefix(4))",
                ids: owners.prefix(4).compactMap { $0.split(separator: " ").last.map(String.init) }
            )
        }
        let veths = command("/usr/sbin/ip", ["-o", "link", "show", "master", run.network.bridge]).output.split(
            separator: "\n"
        )
        if !veths.isEmpty {
            await run.finding("\(veths.count) veths left on \(run.network.bridge), e.g. \(veths.prefix(2))")
        }

        let files = stateEntries(of: daemon)
        if !files.isEmpty {
            let byDirectory = Dictionary(grouping: files) { ($0 as NSString).deletingLastPathComponent }.map {
                "\($0.key): \($0.value.count)"
            }.sorted()
            await run.finding(
                "\(files.count) entries left: \(byDirectory); e.g. \(files.prefix(4))",
                ids: files.map { ($0 as NSString).lastPathComponent }
            )
        }
    }

    // MARK: Helpers

    /// Lines of /proc/self/mountinfo whose mount point is under `directory`.
    static func mountLines(under directory: String) -> [String] {
        nodeMountInfo().split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4].hasPrefix(directory + "/")
        }.map(String.init)
    }

    /// Unmounts (lazily) everything under `directory`, deepest first, then removes it.
    static func removeDirectory(_ directory: String) {
        for line in mountLines(under: directory).reversed() {
            umount2(String(line.split(separator: " ")[4]), Int32(MNT_DETACH))
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The socket inodes ("socket:[N]") process `pid` has open.
    static func socketInodes(of pid: Int32) -> Set<String> {
        guard pid > 0 else { return [] }
        let directory = "/proc/\(pid)/fd"
        return Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).compactMap { fd in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + fd)).flatMap {
                    $0.hasPrefix("socket:") ? $0 : nil
                }
            }
        )
    }

    /// "pid comm (n sockets)" of every process holding one of `sockets`.
    static func processes(holding sockets: Set<String>) -> [String] {
        guard !sockets.isEmpty else { return [] }
        var found: [String] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
            let held = socketInodes(of: Int32(entry)!).intersection(sockets)
            guard !held.isEmpty else { continue }
            let name = ((try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8)) ?? "?")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            found.append("\(entry) \(name) (\(held.count) of skiffd's sockets)")
        }
        return found
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2fs", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    /// The id in "… already exists … as <id>; remove it first".
    static func holder(in message: String) -> String? {
        guard let range = message.range(of: " as ", options: .backwards) else { return nil }
        let id = message[range.upperBound...].prefix { $0.isHexDigit }
        return id.count >= 12 ? String(id) : nil
    }

    /// Entries of the per-object directories (sandboxes, containers, root filesystems, runtime
    /// state, conmon's exit files).
    static func stateEntries(of daemon: DaemonHarness) -> [String] {
        var directories = [
            daemon.stateDir + "/sandboxes", daemon.stateDir + "/containers", daemon.rootDir + "/containers",
            daemon.stateDir + "/exits",
        ]
        for handler in (try? FileManager.default.contentsOfDirectory(atPath: daemon.stateDir + "/runtime")) ?? [] {
            directories.append(daemon.stateDir + "/runtime/" + handler)
        }
        return directories.flatMap { directory in
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).map { directory + "/" + $0 }
        }
    }

    /// skiffd's log lines (every restart's log) that mention one of `ids`.
    static func logLines(of daemon: DaemonHarness, mentioning ids: [String], limit: Int) -> [String] {
        guard !ids.isEmpty else { return [] }
        let logs = ((try? FileManager.default.contentsOfDirectory(atPath: daemon.directory)) ?? [])
            .filter { $0.hasPrefix("skiffd-") && $0.hasSuffix(".log") }
            .sorted { (Int($0.dropFirst(7).dropLast(4)) ?? 0) < (Int($1.dropFirst(7).dropLast(4)) ?? 0) }
        var found: [String] = []
        for log in logs {
            let text = (try? String(contentsOfFile: daemon.directory + "/" + log, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") where ids.contains(where: { line.contains($0) }) {
                found.append("[\(log)] " + String(line.prefix(400)))
            }
        }
        return Array(found.suffix(limit))
    }

    /// Copies skiffd's logs out of the run's directory (removed at the end) for the report.
    static func keepLogs(of daemon: DaemonHarness) {
        let target = "/tmp/skiff-chaos-logs-" + (daemon.directory as NSString).lastPathComponent
        try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for log in (try? FileManager.default.contentsOfDirectory(atPath: daemon.directory)) ?? []
        where log.hasSuffix(".log") {
            try? FileManager.default.copyItem(atPath: daemon.directory + "/" + log, toPath: target + "/" + log)
        }
        print("ChaosTests: skiffd logs kept in \(target)")
    }

    static func mountIDs(_ mounts: [String]) -> [String] {
        mounts.compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            let components: [Substring] = fields[4].split(separator: Character("/"))
            return components.first { $0.count > 12 && $0.allSatisfy(\.isHexDigit) }.map(String.init)
        }
    }

    static func natIDs(_ rules: [String]) -> [String] {
        rules.compactMap { rule in
            guard let range = rule.range(of: "id: \\\"") else { return nil }
            return String(rule[range.upperBound...].prefix { $0.isHexDigit })
        }
    }

    /// Runs a command to its end (bounded) and returns its status and output.
    static func command(
        _ executable: String,
        _ arguments: [String],
        input: String? = nil
    ) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        do { try process.run() } catch { return (-1, "\(error)") }
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        for _ in 0..<1000 where process.isRunning { usleep(10_000) }
        if process.isRunning { stopProcess(process) }
        return (process.isRunning ? -1 : process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func natRules() -> [String] {
        command("/usr/sbin/iptables", ["-w", "5", "-t", "nat", "-S"]).output.split(separator: "\n").map(String.init)
    }

    /// Deletes portmap's rules for the run's network (what a failed run may have left): the
    /// rules naming the network, then the per-pod chains they jump to.
    static func removeNATRules(of network: String) {
        let saved = command("/usr/sbin/iptables-save", ["-t", "nat"]).output.split(separator: "\n")
        let rules = saved.filter { $0.hasPrefix("-A ") && $0.contains(network) }
        guard !rules.isEmpty else { return }
        var chains: Set<String> = []
        for rule in rules {
            let words = rule.split(separator: " ")
            if let jump = words.firstIndex(of: "-j"), jump + 1 < words.count, words[jump + 1].hasPrefix("CNI-DN-") {
                chains.insert(String(words[jump + 1]))
            }
        }
        var script = "*nat\n" + rules.map { "-D" + $0.dropFirst(2) + "\n" }.joined()
        script += chains.map { "-F \($0)\n-X \($0)\n" }.joined() + "COMMIT\n"
        _ = command("/usr/sbin/iptables-restore", ["--noflush"], input: script)
    }

    /// cgroup directories `<controller><parent>/skiff-*`, one per hierarchy.
    static func cgroupDirectories(under parent: String) -> [String] {
        var found: Set<String> = []
        for controller in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            let directory = URL(fileURLWithPath: "/sys/fs/cgroup/\(controller)\(parent)").resolvingSymlinksInPath().path
            for child in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            where child.hasPrefix("skiff-") {
                found.insert(directory + "/" + child)
            }
        }
        return found.sorted()
    }

    /// Processes in cgroups `<parent>/skiff-<id>`, by id: "pid comm".
    static func cgroupMembers(under parent: String) -> [String: [String]] {
        var found: [String: [String]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
            guard let text = try? String(contentsOfFile: "/proc/\(entry)/cgroup", encoding: .utf8),
                let range = text.range(of: parent + "/skiff-")
            else { continue }
            let id = String(text[range.upperBound...].prefix { $0 != "/" && $0 != "\n" })
            let name = ((try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8)) ?? "?")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            found[id, default: []].append("\(entry) \(name)")
        }
        return found
    }

    /// Kills what is left in the run's cgroups and removes them, with their parent.
    static func removeCgroups(under parent: String) {
        for directory in cgroupDirectories(under: parent) {
            for _ in 0..<100 {
                let procs = ((try? String(contentsOfFile: directory + "/cgroup.procs", encoding: .utf8)) ?? "").split(
                    separator: "\n"
                ).compactMap { Int32($0) }
                if procs.isEmpty { break }
                for pid in procs { kill(pid, SIGKILL) }
                usleep(20_000)
            }
            rmdir(directory)
        }
        for controller in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            rmdir("/sys/fs/cgroup/\(controller)\(parent)")
        }
    }
}
