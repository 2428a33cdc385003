import Foundation
import ImageCore

/// The project's test images, made from Debian's busybox (the static build by default: one
/// binary, no libraries).
public enum BusyboxImages {
    /// How applets link to /bin/busybox. Symbolic by default; hard links as in the real busybox
    /// images, where masking one applet (a bind mount over /bin/ls) must not mask busybox itself.
    public enum AppletLinks: String, Sendable, CaseIterable {
        case symbolic, hard
    }

    public static let defaultBusybox = "/bin/busybox"
    public static let applets = [
        "sh", "echo", "cat", "ls", "sleep", "id", "env", "true", "false", "test", "printf", "wc", "head", "httpd", "nc",
        "touch", "mkdir", "rm", "dd", "pwd", "grep", "tail", "hostname", "kill", "ps", "date", "top", "tee", "sed",
        "awk", "find", "xargs", "seq", "tr", "cut", "sort", "uniq", "whoami", "uname", "stat", "ln", "chmod", "chown",
        "df", "du", "timeout", "nslookup", "ip", "ifconfig", "ping", "mount", "which", "basename", "dirname", "md5sum",
        "sha256sum", "uptime", "free", "brctl", "cp", "mv", "readlink", "stty", "tty", "pidof",
    ]

    public static func busyboxBinary(_ path: String = defaultBusybox) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The base layer: /bin/busybox with applet links (`applets` plus `extraApplets`), /etc/passwd
    /// and /etc/group with an `app` user (uid 1000), /tmp.
    public static func baseLayer(
        busybox: [UInt8],
        links: AppletLinks = .symbolic,
        extraApplets: [String] = []
    ) -> FixtureImage.Layer {
        var tar = TarBuilder()
        tar.directory("bin")
        tar.file("bin/busybox", busybox, mode: 0o755)
        for applet in applets + extraApplets.filter({ !applets.contains($0) }) {
            switch links {
            case .symbolic: tar.symlink("bin/\(applet)", to: "busybox")
            case .hard: tar.hardLink("bin/\(applet)", to: "bin/busybox")
            }
        }
        tar.directory("etc")
        tar.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
        tar.file("etc/group", "root:x:0:\napp:x:1000:\n")
        tar.directory("home/app", mode: 0o750, uid: 1000, gid: 1000)
        tar.directory("tmp", mode: 0o1777)
        tar.directory("data")
        tar.file("data/removed-later", "from the base layer\n")
        tar.directory("data/replaced")
        tar.file("data/replaced/old", "old\n")
        return FixtureImage.Layer(tar: tar.finished())
    }

    /// A layer that replaces the base layer's /etc/passwd and /etc/group with theirs plus the
    /// given lines (accounts a test image needs: `nobody`, a named user, a group it belongs to).
    public static func accountsLayer(passwd: [String], group: [String]) -> FixtureImage.Layer {
        var tar = TarBuilder()
        tar.directory("etc")
        let basePasswd = ["root:x:0:0:root:/root:/bin/sh", "app:x:1000:1000:app:/home/app:/bin/sh"]
        tar.file("etc/passwd", (basePasswd + passwd).map { $0 + "\n" }.joined())
        tar.file("etc/group", (["root:x:0:", "app:x:1000:"] + group).map { $0 + "\n" }.joined())
        return FixtureImage.Layer(tar: tar.finished())
    }

    /// A second layer exercising whiteouts, an opaque directory, hard links, a setuid file and
    /// an xattr.
    public static func changesLayer() -> FixtureImage.Layer {
        var tar = TarBuilder()
        tar.directory("data")
        tar.whiteout("data/removed-later")
        tar.directory("data/replaced")
        tar.opaque("data/replaced")
        tar.file("data/replaced/new", "new\n")
        tar.file("data/hello.txt", "hello from layer 2\n", mode: 0o640, uid: 1000, gid: 1000)
        tar.hardLink("data/hello-link.txt", to: "data/hello.txt")
        tar.file("data/setuid", "#!/bin/sh\n", mode: 0o4755)
        tar.file("data/with-xattr", Array("x\n".utf8), xattrs: ["user.skiff": "test"])
        tar.fifo("data/pipe")
        return FixtureImage.Layer(tar: tar.finished())
    }

    /// A small third layer of text, so images have three layers.
    public static func appLayer(_ text: String = "skiff fixture\n") -> FixtureImage.Layer {
        var tar = TarBuilder()
        tar.directory("app")
        tar.file("app/message", text)
        return FixtureImage.Layer(tar: tar.finished())
    }

    /// The standard test image: three layers, PATH and a default command, user root.
    public static func standard(
        busybox: [UInt8],
        user: String? = nil,
        architecture: String = "amd64",
        message: String = "skiff fixture\n"
    ) -> FixtureImage {
        FixtureImage(
            layers: [baseLayer(busybox: busybox), changesLayer(), appLayer(message)],
            config: standardConfig(user: user),
            architecture: architecture
        )
    }

    /// The standard image's config: PATH, a marker variable, `/bin/sh`, and `user` if given.
    public static func standardConfig(user: String? = nil) -> ImageConfiguration.Defaults {
        .init(
            user: user,
            env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FIXTURE=1"],
            cmd: ["/bin/sh"],
            workingDir: "/"
        )
    }
}
