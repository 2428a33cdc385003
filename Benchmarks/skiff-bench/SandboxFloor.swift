import ArgumentParser
import Foundation
import RuntimeCore

/// The floor under a pod network's lifecycle, with no daemon: the namespaces a pod pins
/// (skiff-pinns) and the CNI chain ADDed, then the chain DELed and the namespaces released — the
/// work RunPodSandbox and StopPodSandbox cannot avoid. `sandboxes` compares RunPodSandbox with
/// the ADD side; Benchmarks/containerd-side-by-side.sh compares StopPodSandbox with the DEL side.
extension SkiffBench {
    struct Floor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pin + CNI ADD and CNI DEL + unpin, sequentially, no daemon."
        )
        @Option(help: "CNI conf dir (its first network list is used).") var cniConfDir: String
        @Option(help: "CNI plugin directory.") var cniBinDir: String = "/usr/lib/cni"
        @Option(help: "Directory for the pinned namespaces.") var scratch: String
        @Option(help: "Cycles.") var count: Int = 20

        func run() async throws {
            let series = try await Self.series(
                cniConfDir: cniConfDir,
                cniBinDir: cniBinDir,
                scratch: scratch,
                count: count
            )
            let p = SkiffBench.Sandboxes.p
            print("floor pin + CNI ADD:   p50 \(p(series.map(\.add), 50)) ms  p95 \(p(series.map(\.add), 95)) ms")
            print("floor CNI DEL + unpin: p50 \(p(series.map(\.delete), 50)) ms  p95 \(p(series.map(\.delete), 95)) ms")
        }

        /// Milliseconds of each half of one floor cycle.
        struct Cycle {
            var add: Double
            var delete: Double
            var whole: Double { add + delete }
        }

        static func series(cniConfDir: String, cniBinDir: String, scratch: String, count: Int) async throws -> [Cycle] {
            guard let network = try CNINetworkList.load(directory: cniConfDir) else {
                throw ValidationError("no CNI config in \(cniConfDir)")
            }
            let pinner = PinnsNamespacePinner.besideExecutable()
            let runner = CNIPluginRunner(binDirs: [cniBinDir])
            let milliseconds = SkiffBench.Sandboxes.milliseconds
            var results: [Cycle] = []
            for index in 0..<count {
                let start = ContinuousClock.now
                let pinned = try await pinner.pin(
                    NamespaceRequest(hostname: "floor-\(index)"),
                    in: "\(scratch)/floor-\(index)"
                )
                let attachment = CNIAttachment(
                    containerID: "floor-\(index)-\(UUID().uuidString.prefix(6))",
                    netnsPath: pinned.network!
                )
                let result = try await runner.add(network, attachment)
                let added = ContinuousClock.now
                try await runner.delete(network, attachment, previousResult: result.raw)
                try pinner.unpin(pinned)
                let end = ContinuousClock.now
                results.append(Cycle(add: milliseconds(added - start), delete: milliseconds(end - added)))
            }
            return results
        }
    }
}
