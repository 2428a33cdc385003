import Foundation
import ImageFixtures
import SkiffCommon
import Testing

@testable import ImageCore

/// The fixture builders critest's stand-in images rely on, checked by unpacking their layers the
/// way skiffd does.
@Suite struct BusyboxImagesTests {
    static func unpacked(_ layers: [FixtureImage.Layer], _ body: (String) throws -> Void) throws {
        try LayerUnpackerTests.withDirectory { directory in
            for layer in layers { _ = try LayerUnpackerTests.unpack(layer.compressed, into: directory, chunk: 65536) }
            try body(directory + "/fs")
        }
    }

    static func inode(_ path: String) -> (ino: UInt, mode: UInt32)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (UInt(info.st_ino), UInt32(info.st_mode))
    }

    @Test func hardAppletLinksShareBusyboxInode() throws {
        let layer = BusyboxImages.baseLayer(
            busybox: Array("#!busybox\n".utf8),
            links: .hard,
            extraApplets: ["pidof", "ipcrm"]
        )
        try Self.unpacked([layer]) { root in
            let busybox = try #require(Self.inode(root + "/bin/busybox"))
            for applet in ["sh", "ls", "pidof", "ipcrm"] {
                let link = try #require(Self.inode(root + "/bin/\(applet)"), "\(applet) is linked")
                #expect(link.ino == busybox.ino, "\(applet) is a hard link to /bin/busybox")
                #expect(link.mode & S_IFMT == S_IFREG)
            }
        }
    }

    /// containerd applies a hard link's header mode and owner to the inode it shares: applet
    /// links written as 0644 made /bin/busybox, and so every applet, not executable there.
    @Test func hardLinksCarryTheirTargetsModeAndOwner() throws {
        var tar = TarBuilder()
        tar.file("bin/busybox", "#!busybox\n", mode: 0o755)
        tar.hardLink("bin/sh", to: "bin/busybox")
        tar.file("data/hello.txt", "hello\n", mode: 0o640, uid: 1000, gid: 1001)
        tar.hardLink("data/hello-link.txt", to: "data/hello.txt")
        let links = try TarStreamParserTests.parse(tar.finished()).filter { $0.kind == .hardLink }
        #expect(links.map(\.path) == ["bin/sh", "data/hello-link.txt"])
        #expect(links.map(\.mode) == [0o755, 0o640])
        #expect(links.map(\.uid) == [0, 1000])
        #expect(links.map(\.gid) == [0, 1001])
    }

    @Test func symbolicAppletLinksStayTheDefault() throws {
        try Self.unpacked([BusyboxImages.baseLayer(busybox: Array("#!busybox\n".utf8))]) { root in
            for applet in ["ls", "pidof"] {
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: root + "/bin/\(applet)")
                #expect(target == "busybox", "\(applet) is a symlink to busybox")
            }
        }
    }

    @Test func hostFilesLandWithParentsContentAndMode() throws {
        let source = NSTemporaryDirectory() + "skiff-hostfile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: source) }  // try?: best-effort cleanup of a temp dir
        try "library\n".write(toFile: source + "/libx.so.1", atomically: true, encoding: .utf8)
        #expect(chmod(source + "/libx.so.1", 0o755) == 0)
        try FileManager.default.createSymbolicLink(atPath: source + "/ld.so", withDestinationPath: "libx.so.1")
        try "helper\n".write(toFile: source + "/helper", atomically: true, encoding: .utf8)

        let files = [
            try HostFile(parsing: source + "/libx.so.1:/lib/x86_64-linux-gnu/libx.so.1"),
            try HostFile(parsing: source + "/ld.so:lib64/ld.so"),
            try HostFile(parsing: source + "/helper:/usr/local/bin/nnp:4755"),
        ]
        try Self.unpacked([try BusyboxImages.hostFilesLayer(files)]) { root in
            let library = try String(contentsOfFile: root + "/lib/x86_64-linux-gnu/libx.so.1", encoding: .utf8)
            #expect(library == "library\n")
            #expect(
                Self.inode(root + "/lib/x86_64-linux-gnu/libx.so.1")?.mode == S_IFREG | 0o755,
                "the host mode is kept"
            )
            #expect(
                Self.inode(root + "/lib64/ld.so").map { $0.mode & S_IFMT } == S_IFREG,
                "a symlink is copied as its target"
            )
            let loader = try String(contentsOfFile: root + "/lib64/ld.so", encoding: .utf8)
            #expect(loader == "library\n")
            #expect(
                Self.inode(root + "/usr/local/bin/nnp")?.mode == S_IFREG | 0o4755,
                "the given mode wins, setuid too"
            )
            #expect(Self.inode(root + "/usr/local/bin")?.mode == S_IFDIR | 0o755)
        }
    }

    @Test(arguments: ["", ":dest", "/a:/b:9999", "/a:/b:rwx", "/a:/b:644:extra", "/a:../escape"])
    func hostFileSpecsThatAreRefused(spec: String) {
        #expect(throws: PushError.self) { try HostFile(parsing: spec) }
    }

    @Test func hostFileDefaultsToItsOwnPath() throws {
        let file = try HostFile(parsing: "/lib64/ld-linux-x86-64.so.2")
        #expect(file == HostFile(source: "/lib64/ld-linux-x86-64.so.2", destination: "lib64/ld-linux-x86-64.so.2"))
        #expect(file.mode == nil)
    }

    @Test func nginxLookingWebServerNamesItselfNginx() throws {
        let image = BusyboxImages.webServer(
            busybox: Array("#!busybox\n".utf8),
            options: .init(banner: "httpd: it's up", nginx: true)
        )
        let config = try JSONDecoder().decode(
            ImageConfiguration.self,
            from: Data(image.blobs[image.configDigest] ?? [])
        )
        let command = try #require(config.config?.cmd)
        #expect(command.prefix(2) == ["/bin/sh", "-c"])
        #expect(
            command.last
                == #"echo 'httpd: it'\''s up' && echo $$ > /var/run/nginx.pid && "#
                + "exec -a 'nginx: master process /httpd' /usr/sbin/nginx -f -p 80 -h /www"
        )
        #expect(BusyboxImages.webServer(busybox: [], port: 8080).blobs.count == 4, "three layers and a config")
    }
}
