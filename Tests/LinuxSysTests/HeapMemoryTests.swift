import Testing

@testable import LinuxSys

@Suite struct HeapMemoryTests {
    /// Freed blocks below a live one cannot be returned by shrinking the heap's top; trim
    /// releases their whole pages.
    @Test func trimReleasesFreedPagesBelowALiveBlock() {
        let count = 512
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<count {
            let block = UnsafeMutableRawPointer.allocate(byteCount: 32 << 10, alignment: 16)
            block.initializeMemory(as: UInt8.self, repeating: 1, count: 32 << 10)
            blocks.append(block)
        }
        for block in blocks.dropLast() { block.deallocate() }
        #expect(HeapMemory.trim())
        blocks.last?.deallocate()
    }
}
