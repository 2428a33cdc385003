import CLinuxShim

/// The C heap (glibc malloc) that Swift allocates from.
public enum HeapMemory {
    /// Returns the heap's free pages to the kernel (`malloc_trim(0)`: the top of every arena and
    /// whole free pages inside them); true when some memory was released.
    @discardableResult
    public static func trim() -> Bool {
        skiff_malloc_trim() == 1
    }
}
