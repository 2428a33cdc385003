#!/usr/bin/env python3
"""A port-forward (portforward.k8s.io) client for the tests, written from the SPDY draft 3.1,
RFC 6455 and client-go's port-forward protocol description; it shares no code with Skiff.

usage: spdy_portforward_client.py URL --port P [--websocket] [--requests N] [--send TEXT]
                                  [--stall SECONDS] [--drop-after BYTES] [--no-fin]

For each of N requests (requestID 0..N-1, all on one connection) it opens an error stream (and
half-closes it, as client-go does), then a data stream for port P, sends TEXT and FIN on the data
stream, and reads both streams to their FIN. With --websocket the SPDY bytes travel in binary
WebSocket messages (subprotocol SPDY/3.1+portforward.k8s.io). --stall waits before reading
anything; --no-fin keeps the client's side of the data stream open; --drop-after closes the socket once that many data bytes arrived (a client that goes
away mid-stream).
Prints one JSON object: {"status": ..., "protocol": ..., "results": [{"data_length", "data_head",
"error", "data_fin", "error_fin"}]}.
"""
import base64, json, os, socket, struct, sys, time, urllib.parse, zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spdy_exec_client import DICTIONARY, control, read_upgrade_response, split_frames  # noqa: E402  (the dictionary is checked there)


def data_frame(stream_id, flags, payload):
    return struct.pack(">II", stream_id, (flags << 24) | len(payload)) + payload


class Connection:
    """A socket that carries the SPDY byte stream either raw or inside WebSocket messages."""

    def __init__(self, sock, websocket, leftover):
        self.sock, self.websocket, self.buffer, self.stream = sock, websocket, leftover, b""

    def send(self, data):
        if not self.websocket:
            self.sock.sendall(data)
            return
        mask = os.urandom(4)
        header = bytes([0x82])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def receive(self):
        """More SPDY bytes; b"" at the end of the connection."""
        if not self.websocket:
            if self.buffer:
                data, self.buffer = self.buffer, b""
                return data
            return self.sock.recv(262144)
        while True:
            if len(self.buffer) >= 2:
                opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
                offset = 2
                if length == 126:
                    length, offset = struct.unpack(">H", self.buffer[2:4])[0], 4
                elif length == 127:
                    length, offset = struct.unpack(">Q", self.buffer[2:10])[0], 10
                if len(self.buffer) >= offset + length:
                    payload, self.buffer = self.buffer[offset:offset + length], self.buffer[offset + length:]
                    if opcode == 8:
                        return b""
                    if opcode in (0, 2):
                        return payload
                    continue
            chunk = self.sock.recv(262144)
            if not chunk:
                return b""
            self.buffer += chunk


def upgrade(url, websocket):
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    if websocket:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                      f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n").encode())
    else:
        sock.sendall((f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                      "X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n").encode())
    status, protocol, rest = read_upgrade_response(sock, b"sec-websocket-protocol" if websocket else b"x-stream-protocol-version")
    return sock, status, protocol, rest


def main():
    url = urllib.parse.urlparse(sys.argv[1])
    def option(name, default=None):
        return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default
    port, requests = option("--port"), int(option("--requests", "1"))
    send = option("--send", "").encode().decode("unicode_escape").encode("latin-1")
    drop_after = int(option("--drop-after", "-1"))
    websocket = "--websocket" in sys.argv
    sock, status, protocol, rest = upgrade(url, websocket)
    if status != 101:
        print(json.dumps({"status": status}))
        return
    conn = Connection(sock, websocket, rest)
    compressor = zlib.compressobj(zdict=DICTIONARY)
    decompressor = zlib.decompressobj(zdict=DICTIONARY)

    def headers(pairs):
        block = struct.pack(">I", len(pairs))
        for name, value in pairs:
            block += struct.pack(">I", len(name)) + name.encode() + struct.pack(">I", len(value)) + value.encode()
        return compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)

    streams, results = {}, []
    for request in range(requests):
        error_id, data_id = 1 + 4 * request, 3 + 4 * request
        result = {"data": b"", "error": b"", "data_fin": False, "error_fin": False, "reply": 0, "reset": False}
        results.append(result)
        streams[error_id], streams[data_id] = (result, "error"), (result, "data")
        common = [("port", port), ("requestid", str(request))]
        conn.send(control(1, 0, struct.pack(">IIBB", error_id, 0, 0, 0) + headers([("streamtype", "error")] + common)))
        conn.send(data_frame(error_id, 1, b""))  # client-go closes its side of the error stream at once
        conn.send(control(1, 0, struct.pack(">IIBB", data_id, 0, 0, 0) + headers([("streamtype", "data")] + common)))
        if send:
            conn.send(data_frame(data_id, 0, send))
        if "--no-fin" not in sys.argv:
            conn.send(data_frame(data_id, 1, b""))
    if "--stall" in sys.argv:
        time.sleep(float(option("--stall")))  # a client that reads nothing for a while
    data, received = b"", 0
    while not all(r["data_fin"] and r["error_fin"] or r["reset"] for r in results):
        chunk = conn.receive()
        if not chunk:
            break
        data += chunk
        frames, data = split_frames(data)
        for is_control, kind, stream_id, flags, payload in frames:
            if is_control and kind == 2:  # SYN_REPLY
                decompressor.decompress(payload[4:])
                streams[stream_id][0]["reply"] += 1
            elif is_control and kind == 3 and stream_id in streams:  # RST_STREAM
                streams[stream_id][0]["reset"] = True
            elif not is_control:
                result, name = streams[stream_id]
                result[name] += payload
                if name == "data":
                    received += len(payload)
                if flags & 1:
                    result[name + "_fin"] = True
        if 0 <= drop_after <= received:
            sock.close()
            print(json.dumps({"status": status, "dropped_after": received}))
            return
    print(json.dumps({"status": status, "protocol": protocol, "results": [
        {"data_length": len(r["data"]), "data_head": r["data"][:4096].decode("latin-1"), "data_tail": r["data"][-64:].decode("latin-1"),
         "error": r["error"].decode(), "data_fin": r["data_fin"], "error_fin": r["error_fin"], "replies": r["reply"], "reset": r["reset"]}
        for r in results]}))


if __name__ == "__main__":
    main()
