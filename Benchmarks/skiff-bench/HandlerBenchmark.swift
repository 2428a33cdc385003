import ArgumentParser
import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix

extension SkiffBench {
    /// Pod start per RuntimeClass handler (runc, crun, runsc …) in one run: for each handler,
    /// `count` pods one after the other, each RunPodSandbox + CreateContainer + StartContainer of
    /// one sleeping container, timed call by call; then StopPodSandbox + RemovePodSandbox.
    struct Handlers: AsyncParsableCommand {
        @Option(help: "skiffd's socket.") var socket: String
        @Option(help: "Image to run (pulled first).") var image: String
        @Option(help: "Directory for the pods' logs.") var logDirectory: String
        @Option(help: "Comma-separated handlers, in the order they run.") var handlers: String = "runc,crun,runsc"
        @Option(help: "Pods per handler.") var count: Int = 20

        struct Timings {
            var run: [Double] = []
            var create: [Double] = []
            var start: [Double] = []
            var total: [Double] = []
            var stopRemove: [Double] = []
        }

        func run() async throws {
            try await withGRPCClient(
                transport: try .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)
            ) { client in
                let runtime = Runtime_V1_RuntimeService.Client(wrapping: client)
                var pull = Runtime_V1_PullImageRequest()
                pull.image.image = image
                let imageID = try await Runtime_V1_ImageService.Client(wrapping: client).pullImage(pull).imageRef
                print(
                    "handler  RunPodSandbox p50/p95   CreateContainer p50/p95   StartContainer p50/p95   all three p50/p95   Stop+Remove p50"
                )
                for handler in handlers.split(separator: ",").map(String.init) {
                    var timings = Timings()
                    for index in 0..<count {
                        try await cycle(runtime, handler: handler, imageID: imageID, index: index, into: &timings)
                    }
                    let p = Sandboxes.p
                    print(
                        "\(handler.padding(toLength: 8, withPad: " ", startingAt: 0)) \(p(timings.run, 50))/\(p(timings.run, 95)) ms"
                            + "   \(p(timings.create, 50))/\(p(timings.create, 95)) ms"
                            + "   \(p(timings.start, 50))/\(p(timings.start, 95)) ms"
                            + "   \(p(timings.total, 50))/\(p(timings.total, 95)) ms"
                            + "   \(p(timings.stopRemove, 50)) ms"
                    )
                }
            }
        }

        func cycle(
            _ runtime: Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>,
            handler: String,
            imageID: String,
            index: Int,
            into timings: inout Timings
        ) async throws {
            let clock = ContinuousClock()
            var pod = Runtime_V1_RunPodSandboxRequest()
            pod.runtimeHandler = handler
            pod.config.metadata.name = "\(handler)-\(index)"
            pod.config.metadata.namespace = "bench-handlers"
            pod.config.metadata.uid = "uid-\(UUID().uuidString.prefix(8))"
            pod.config.hostname = "\(handler)-\(index)"
            pod.config.linux.securityContext.namespaceOptions.pid = .container
            pod.config.logDirectory = logDirectory
            var podID = ""
            let run = try await clock.measure {
                podID = try await runtime.runPodSandbox(pod).podSandboxID
            }
            var create = Runtime_V1_CreateContainerRequest()
            create.podSandboxID = podID
            create.sandboxConfig = pod.config
            create.config.metadata.name = "sleeper"
            create.config.image.image = imageID
            create.config.command = ["/bin/sleep", "3600"]
            create.config.logPath = "\(handler)-\(index).log"
            var containerID = ""
            let created = try await clock.measure {
                containerID = try await runtime.createContainer(create).containerID
            }
            var start = Runtime_V1_StartContainerRequest()
            start.containerID = containerID
            let started = try await clock.measure { _ = try await runtime.startContainer(start) }
            var stop = Runtime_V1_StopPodSandboxRequest()
            stop.podSandboxID = podID
            var remove = Runtime_V1_RemovePodSandboxRequest()
            remove.podSandboxID = podID
            let teardown = try await clock.measure {
                _ = try await runtime.stopPodSandbox(stop)
                _ = try await runtime.removePodSandbox(remove)
            }
            let ms = Sandboxes.milliseconds
            timings.run.append(ms(run))
            timings.create.append(ms(created))
            timings.start.append(ms(started))
            timings.total.append(ms(run) + ms(created) + ms(started))
            timings.stopRemove.append(ms(teardown))
        }
    }
}
