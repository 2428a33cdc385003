import SkiffCommon

/// One member of a layer tar, with pax and GNU extensions already applied.
struct TarEntry: Sendable {
    enum Kind: Sendable, Equatable { case regular, hardLink, symlink, characterDevice, blockDevice, directory, fifo }

    var path: String
    var kind: Kind
    var size: Int64
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var modificationSeconds: Int64
    var modificationNanoseconds: Int64
    var linkName: String
    var deviceMajor: UInt32
    var deviceMinor: UInt32
    var xattrs: [(name: String, value: [UInt8])]
}

/// Receives the entries of a tar stream in order: `begin`, then the content in chunks, then `end`.
protocol TarEntrySink {
    mutating func begin(_ entry: TarEntry) throws(SkiffError)
    mutating func content(_ bytes: UnsafeRawBufferPointer) throws(SkiffError)
    mutating func end() throws(SkiffError)
}
