import Foundation
import StreamingServer

#if canImport(Glibc)
import Glibc
#endif

/// Blocking clients for the streaming benchmark: exec over WebSocket and SPDY, port-forward over
/// SPDY, and a plain TCP fetch for the direct baseline. Each reads to the end and counts bytes;
/// none keeps what it reads beyond what it needs.
struct BenchConnection {
    let fd: Int32
    private(set) var buffer: [UInt8] = []

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    init(host: String, port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw Failure("connect to \(host):\(port): errno \(errno)")
        }
    }

    init(url: String) throws {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw Failure("bad URL \(url)")
        }
        try self.init(host: host, port: port)
    }

    func close() { Glibc.close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            guard count > 0 else { throw Failure("send: errno \(errno)") }
            sent += count
        }
    }

    /// Reads more into the buffer; false at the end of the connection.
    mutating func fill(_ chunk: inout [UInt8]) throws -> Bool {
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 { throw Failure("recv: errno \(errno)") }
        if count == 0 { return false }
        buffer += chunk[0..<count]
        return true
    }

    /// Reads until `n` bytes are buffered; false if the connection ended first.
    mutating func need(_ n: Int, _ chunk: inout [UInt8]) throws -> Bool {
        while buffer.count < n { guard try fill(&chunk) else { return false } }
        return true
    }

    /// Sends an HTTP request and reads the response head; throws unless it is 101.
    mutating func upgrade(_ request: String) throws {
        try send(Array(request.utf8))
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = buffer.indices.dropLast(3).first(where: {
                buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10
            }) {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                guard head.hasPrefix("HTTP/1.1 101") else { throw Failure("not upgraded: \(head.prefix(80))") }
                return
            }
            guard try fill(&chunk) else { throw Failure("closed during the upgrade") }
        }
    }

    /// Drops `n` buffered bytes (payloads the benchmark only counts).
    mutating func consume(_ n: Int) { buffer.removeFirst(n) }

    /// Reads and discards `n` bytes, without keeping them.
    mutating func skip(_ n: Int, _ chunk: inout [UInt8]) throws {
        var remaining = n
        let buffered = min(remaining, buffer.count)
        buffer.removeFirst(buffered)
        remaining -= buffered
        while remaining > 0 {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, remaining), 0) }
            guard count > 0 else { throw Failure("closed \(remaining) bytes early") }
            remaining -= count
        }
    }
}

enum StreamingClients {
    static func path(_ url: String) -> String { URLComponents(string: url)?.path ?? "/" }

    /// An exec over WebSocket (v5.channel.k8s.io), read to the close frame; returns stdout.
    static func webSocketExec(_ url: String) throws -> String {
        var connection = try BenchConnection(url: url)
        defer { connection.close() }
        try connection.upgrade(
            "GET \(path(url)) HTTP/1.1\r\nHost: bench\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: c2tpZmYtYmVuY2gtY2xpZW50\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"
        )
        var chunk = [UInt8](repeating: 0, count: 65536)
        var stdout: [UInt8] = []
        while try connection.need(2, &chunk) {
            let opcode = connection.buffer[0] & 0x0F
            var length = Int(connection.buffer[1] & 0x7F)
            var header = 2
            if length == 126 {
                guard try connection.need(4, &chunk) else { break }
                length = Int(connection.buffer[2]) << 8 | Int(connection.buffer[3])
                header = 4
            } else if length == 127 {
                guard try connection.need(10, &chunk) else { break }
                length = connection.buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
                header = 10
            }
            guard try connection.need(header + length, &chunk) else { break }
            if opcode == 8 { return String(decoding: stdout, as: UTF8.self) }
            if length > 0, connection.buffer[header] == 1 {
                stdout += connection.buffer[(header + 1)..<(header + length)]
            }
            connection.consume(header + length)
        }
        throw BenchConnection.Failure("the exec ended without a close frame")
    }

    /// An exec over SPDY/3.1 (v4.channel.k8s.io) with error, stdout and stderr streams, read to
    /// the GOAWAY; returns stdout.
    static func spdyExec(_ url: String) throws -> String {
        var connection = try BenchConnection(url: url)
        defer { connection.close() }
        try connection.upgrade(
            "POST \(path(url)) HTTP/1.1\r\nHost: bench\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                + "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
        )
        let deflater = SPDYHeaderDeflater()
        var frames: [UInt8] = []
        for (index, type) in ["error", "stdout", "stderr"].enumerated() {
            frames +=
                SPDYFrame.synStream(
                    streamID: UInt32(1 + 2 * index),
                    associatedTo: 0,
                    priority: 0,
                    flags: 0,
                    headerBlock: deflater.compress([("streamtype", type)])
                ).bytes
        }
        try connection.send(frames)
        var chunk = [UInt8](repeating: 0, count: 65536)
        var stdout: [UInt8] = []
        while try connection.need(8, &chunk) {
            let length = Int(connection.buffer[5]) << 16 | Int(connection.buffer[6]) << 8 | Int(connection.buffer[7])
            guard try connection.need(8 + length, &chunk) else { break }
            let control = connection.buffer[0] & 0x80 != 0
            if control && connection.buffer[3] == 7 { return String(decoding: stdout, as: UTF8.self) }
            if !control && connection.buffer[3] == 3 { stdout += connection.buffer[8..<(8 + length)] }
            connection.consume(8 + length)
        }
        throw BenchConnection.Failure("the exec ended without a GOAWAY")
    }

    /// One forwarded connection over SPDY (portforward.k8s.io): sends `request` to `port` in the
    /// pod and counts the reply's bytes until the data stream's FIN.
    static func portForwardFetch(_ url: String, port: Int, request: String) throws -> Int {
        var connection = try BenchConnection(url: url)
        defer { connection.close() }
        try connection.upgrade(
            "POST \(path(url)) HTTP/1.1\r\nHost: bench\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                + "X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n"
        )
        let deflater = SPDYHeaderDeflater()
        let common = [("port", String(port)), ("requestid", "0")]
        var frames = SPDYFrame.synStream(
            streamID: 1,
            associatedTo: 0,
            priority: 0,
            flags: 0,
            headerBlock: deflater.compress([("streamtype", "error")] + common)
        ).bytes
        frames += SPDYFrame.data(streamID: 1, flags: SPDYFrame.flagFin, payload: []).bytes
        frames +=
            SPDYFrame.synStream(
                streamID: 3,
                associatedTo: 0,
                priority: 0,
                flags: 0,
                headerBlock: deflater.compress([("streamtype", "data")] + common)
            ).bytes
        frames += SPDYFrame.data(streamID: 3, flags: SPDYFrame.flagFin, payload: Array(request.utf8)).bytes
        try connection.send(frames)
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var received = 0
        while try connection.need(8, &chunk) {
            let header = Array(connection.buffer[0..<8])
            let length = Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
            connection.consume(8)
            let isData = header[0] & 0x80 == 0
            let stream = Int(header[3])
            if isData && stream == 1 && length > 0 {
                guard try connection.need(length, &chunk) else { break }
                throw BenchConnection.Failure(
                    "port-forward error: \(String(decoding: connection.buffer[0..<length], as: UTF8.self))"
                )
            }
            try connection.skip(length, &chunk)
            if isData && stream == 3 {
                received += length
                if header[4] & SPDYFrame.flagFin != 0 { return received }
            }
        }
        throw BenchConnection.Failure("the forward ended without FIN after \(received) bytes")
    }

    /// The baseline: the same request straight to the pod's address, counted to the close.
    static func directFetch(host: String, port: Int, request: String) throws -> Int {
        let connection = try BenchConnection(host: host, port: port)
        defer { connection.close() }
        try connection.send(Array(request.utf8))
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var received = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += count
        }
        return received
    }
}
