import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A minimal RFC 6455 client written from the spec for the tests (it shares no code with the
/// server): blocking socket, masked client frames, the k8s channel-byte framing left to callers.
final class WebSocketTestClient {
    struct Frame {
        var opcode: UInt8
        var payload: [UInt8]
    }

    struct Refused: Error, CustomStringConvertible {
        var status: String
        var description: String { "upgrade refused: \(status)" }
    }

    /// Closed by deinit only: the object is fully initialised once this is set, so a throwing
    /// init runs deinit too (closing here as well closed another test's fd of the same number).
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var subprotocol = ""

    /// Connects to `url` (http://host:port/path) and performs the opening handshake offering
    /// `protocols`; throws `Refused` with the status line when the server does not switch.
    init(url: String, protocols: [String], timeoutSeconds: Int = 30) throws {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw HarnessError("bad URL \(url)")
        }
        // CLOEXEC: a child another test spawns meanwhile must not keep this connection open.
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
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
        guard connected == 0 else { throw HarnessError("connect to \(url) failed: errno \(errno)") }
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var request =
            "GET \(components.path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if !protocols.isEmpty { request += "Sec-WebSocket-Protocol: \(protocols.joined(separator: ", "))\r\n" }
        request += "\r\n"
        try sendAll(Array(request.utf8))
        let head = try readHead()
        let lines = head.components(separatedBy: "\r\n")
        guard lines.first?.hasPrefix("HTTP/1.1 101") == true else { throw Refused(status: lines.first ?? "") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        let expected = Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)))
            .base64EncodedString()
        guard headers["sec-websocket-accept"] == expected else {
            throw HarnessError("bad Sec-WebSocket-Accept in \(head)")
        }
        subprotocol = headers["sec-websocket-protocol"] ?? ""
    }

    deinit { close(fd) }

    func send(opcode: UInt8 = 2, _ payload: [UInt8]) throws {
        var frame: [UInt8] = [0x80 | opcode]
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame.append(0x80 | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try sendAll(frame)
    }

    /// The k8s channel framing: one byte of channel, then the data.
    func send(channel: UInt8, _ data: [UInt8]) throws {
        try send([channel] + data)
    }

    /// The next frame, or nil when the connection ends.
    func receive() throws -> Frame? {
        guard let first = try readBytes(2) else { return nil }
        var length = Int(first[1] & 0x7F)
        if length == 126 {
            guard let extended = try readBytes(2) else { return nil }
            length = Int(extended[0]) << 8 | Int(extended[1])
        } else if length == 127 {
            guard let extended = try readBytes(8) else { return nil }
            length = extended.reduce(0) { $0 << 8 | Int($1) }
        }
        guard (0...(64 << 20)).contains(length) else { throw HarnessError("a frame of \(length) bytes") }
        guard first[1] & 0x80 == 0 else { throw HarnessError("the server masked a frame") }
        guard let payload = try readBytes(length) else { return nil }
        return Frame(opcode: first[0] & 0x0F, payload: payload)
    }

    /// Reads channel messages until the close frame: per-channel bytes and the close code.
    func collect() throws -> (channels: [UInt8: [UInt8]], closeCode: Int?) {
        var channels: [UInt8: [UInt8]] = [:]
        while let frame = try receive() {
            if frame.opcode == 8 {
                let code = frame.payload.count >= 2 ? Int(frame.payload[0]) << 8 | Int(frame.payload[1]) : nil
                return (channels, code)
            }
            guard let channel = frame.payload.first else { continue }
            channels[channel, default: []] += frame.payload.dropFirst()
        }
        return (channels, nil)
    }

    private func sendAll(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            guard count > 0 else { throw HarnessError("send failed: errno \(errno)") }
            sent += count
        }
    }

    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 { throw HarnessError("recv failed: errno \(errno)") }
        if count == 0 { return false }
        buffer += chunk[0..<count]
        return true
    }

    private func readBytes(_ count: Int) throws -> [UInt8]? {
        while buffer.count < count { guard try fill() else { return nil } }
        defer { buffer.removeFirst(count) }
        return Array(buffer[0..<count])
    }

    private func readHead() throws -> String {
        while true {
            if let range = String(decoding: buffer, as: UTF8.self).range(of: "\r\n\r\n") {
                let text = String(decoding: buffer, as: UTF8.self)
                let head = String(text[..<range.lowerBound])
                buffer.removeFirst(text[..<range.upperBound].utf8.count)
                return head
            }
            guard try fill() else { throw HarnessError("connection closed during the handshake") }
        }
    }
}
