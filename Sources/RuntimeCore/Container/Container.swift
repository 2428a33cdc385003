import ImageCore

/// A container as Skiff records it (durably, in `<state_dir>/containers/<id>/container.json`).
/// The record is the truth between calls; conmon's exit file is the truth about an exit.
public struct Container: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case created, running, exited, unknown }

    public var id: String
    public var sandboxID: String
    public var name: String
    public var attempt: UInt32
    /// The image as the kubelet asked for it, and the image ID it resolved to.
    public var image: String
    public var imageID: String
    /// A repo digest of the image (`name@sha256:…`) when known, for ContainerStatus.image_ref.
    public var imageRef: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var state: State
    /// Nanoseconds since the epoch; 0 when not reached.
    public var createdAt: Int64
    public var startedAt: Int64
    public var finishedAt: Int64
    public var exitCode: Int32
    /// Completed, Error, OOMKilled (set at exit).
    public var reason: String
    public var message: String
    /// Absolute path of the CRI log file ("" when the pod has no log directory).
    public var logPath: String
    public var mounts: [ContainerSpec.Mount]
    public var resources: ContainerSpec.Resources
    public var runtimeHandler: String
    public var cgroupsPath: String
    /// The image layers leased for the root filesystem (chain IDs, as "sha256:…").
    public var layers: [String]
    /// Signal number StopContainer sends first (the image's StopSignal, else SIGTERM).
    public var stopSignal: Int32
    public var pid: Int32
    public var monitorPID: Int32
    public var stdin: Bool
    public var stdinOnce: Bool
    public var tty: Bool
    /// Where the kubelet's termination-message file is on the node, if it mounted one.
    public var terminationMessageHostPath: String?
    /// The runtime binary and root the container was created with, so it can still be stopped
    /// and removed once its handler has left the configuration (nil in older records).
    public var runtimeBinary: String?
    public var runtimeRoot: String?
    /// The identity the container's process got (uid, primary gid, supplementary groups), for
    /// ContainerStatus.user; nil in records written before it was kept.
    public var user: UserResolver.Resolved? = nil
    /// The handler's `runtime_args` and whether it runs pods as sandboxes, kept with the binary
    /// for the same reason (nil in older records and for plain handlers without arguments).
    public var runtimeArguments: [String]? = nil
    public var runtimeSandboxed: Bool? = nil
}

extension Container {
    /// `layers` as digests. skiffd wrote them from digests it had parsed, so none fails to parse;
    /// one that did (a record edited by hand) is left out of the image leases rather than
    /// stopping recovery.
    var layerDigests: [Digest] {
        // try?: see above; a layer left out only leaves its snapshot unleased.
        layers.compactMap { try? Digest(parsing: $0) }
    }
}
