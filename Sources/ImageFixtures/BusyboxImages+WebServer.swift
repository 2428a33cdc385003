import Foundation
import ImageCore

extension BusyboxImages {
    /// How a web server image starts busybox httpd.
    public struct WebServerOptions: Sendable {
        /// The port httpd listens on.
        public var port: Int
        /// A line printed to stdout before httpd starts. critest's multi-container spec waits for
        /// "httpd" in the httpd container's log (Apache prints a warning naming itself).
        public var banner: String?
        /// Look like nginx to critest's namespace specs: the server's pid in /var/run/nginx.pid,
        /// "nginx" as its process name (`pidof nginx` from a host-PID container) and
        /// "nginx: master process" in its /proc/PID/cmdline (pid 1 of a container-PID pod).
        public var nginx: Bool
        /// How applets link to /bin/busybox.
        public var links: AppletLinks
        /// Applet links beyond the default list.
        public var extraApplets: [String]
        /// Layers added on top (host files such as a dynamically linked busybox's libraries).
        public var extraLayers: [FixtureImage.Layer]

        public init(
            port: Int = 80,
            banner: String? = nil,
            nginx: Bool = false,
            links: AppletLinks = .symbolic,
            extraApplets: [String] = [],
            extraLayers: [FixtureImage.Layer] = []
        ) {
            self.port = port
            self.banner = banner
            self.nginx = nginx
            self.links = links
            self.extraApplets = extraApplets
            self.extraLayers = extraLayers
        }
    }

    /// A web server image: the standard layers plus /www/index.html, run by busybox httpd on
    /// `port` as the default command (what critest's web-server image is used for).
    public static func webServer(busybox: [UInt8], port: Int = 80) -> FixtureImage {
        webServer(busybox: busybox, options: WebServerOptions(port: port))
    }

    /// A web server image started as `options` says. Without a banner or nginx looks, the
    /// command is httpd itself; otherwise a shell prints the banner and execs httpd.
    public static func webServer(busybox: [UInt8], options: WebServerOptions) -> FixtureImage {
        var tar = TarBuilder()
        tar.directory("www")
        tar.file("www/index.html", "<html><body>skiff fixture web server</body></html>\n")
        let httpdArguments = ["-f", "-p", String(options.port), "-h", "/www"]
        var command = ["/bin/httpd"] + httpdArguments
        if options.nginx || options.banner != nil {
            var script: [String] = []
            if let banner = options.banner { script.append("echo \(shellQuoted(banner))") }
            if options.nginx {
                tar.directory("usr/sbin")
                tar.symlink("usr/sbin/nginx", to: "/bin/busybox")
                tar.directory("var/run")
                // exec keeps the shell's pid, so the pid file names the server. The kernel names
                // the process after the file executed ("nginx"); busybox picks the applet from
                // the basename of argv[0] ("httpd").
                script.append("echo $$ > /var/run/nginx.pid")
                script.append(
                    "exec -a 'nginx: master process /httpd' /usr/sbin/nginx \(httpdArguments.joined(separator: " "))"
                )
            } else {
                script.append("exec /bin/httpd \(httpdArguments.joined(separator: " "))")
            }
            command = ["/bin/sh", "-c", script.joined(separator: " && ")]
        }
        return FixtureImage(
            layers: [
                baseLayer(busybox: busybox, links: options.links, extraApplets: options.extraApplets),
                changesLayer(), FixtureImage.Layer(tar: tar.finished()),
            ] + options.extraLayers,
            config: .init(
                env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                cmd: command,
                workingDir: "/"
            ),
            architecture: "amd64"
        )
    }

    /// `text` as one single-quoted shell word.
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
