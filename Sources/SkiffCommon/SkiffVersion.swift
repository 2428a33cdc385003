/// The version skiffd reports as `runtime_version` and logs at start.
public enum SkiffVersion {
    public static let current = "0.1.0"
    /// The CRI API version served: runtime.v1.
    public static let criAPIVersion = "v1"
    public static let runtimeName = "skiff"
}
