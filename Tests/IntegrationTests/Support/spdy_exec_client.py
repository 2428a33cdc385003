#!/usr/bin/env python3
"""A SPDY/3.1 remotecommand (v4.channel.k8s.io) client for the tests, written from the SPDY
draft 3.1 and client-go's protocol description; it shares no code with Skiff's server.

usage: spdy_exec_client.py URL [--stdin TEXT] [--no-stderr] [--tty] [--steps STEPS] [--cafile PEM] [--versions V,V]
STEPS: ;-separated resize:WxH, sleep:SECONDS, stdin:TEXT, wait:STDOUT-TEXT, close-stdin.
Prints one JSON object: {"status": <101 or HTTP status>, "stdout": ..., "stderr": ..., "error": ...}.
"""
import base64, json, socket, ssl, struct, sys, time, urllib.parse, zlib

# The SPDY/3 header dictionary (draft 3, section 2.6.10.1), base64 of its 1423 bytes; the
# assert below checks it against the Adler-32 every SPDY/3 zlib header carries.
DICTIONARY = base64.b64decode(
    "AAAAB29wdGlvbnMAAAAEaGVhZAAAAARwb3N0AAAAA3B1dAAAAAZkZWxldGUAAAAFdHJhY2UAAAAGYWNjZXB0AAAADmFjY2Vw"
    "dC1jaGFyc2V0AAAAD2FjY2VwdC1lbmNvZGluZwAAAA9hY2NlcHQtbGFuZ3VhZ2UAAAANYWNjZXB0LXJhbmdlcwAAAANhZ2UA"
    "AAAFYWxsb3cAAAANYXV0aG9yaXphdGlvbgAAAA1jYWNoZS1jb250cm9sAAAACmNvbm5lY3Rpb24AAAAMY29udGVudC1iYXNl"
    "AAAAEGNvbnRlbnQtZW5jb2RpbmcAAAAQY29udGVudC1sYW5ndWFnZQAAAA5jb250ZW50LWxlbmd0aAAAABBjb250ZW50LWxv"
    "Y2F0aW9uAAAAC2NvbnRlbnQtbWQ1AAAADWNvbnRlbnQtcmFuZ2UAAAAMY29udGVudC10eXBlAAAABGRhdGUAAAAEZXRhZwAA"
    "AAZleHBlY3QAAAAHZXhwaXJlcwAAAARmcm9tAAAABGhvc3QAAAAIaWYtbWF0Y2gAAAARaWYtbW9kaWZpZWQtc2luY2UAAAAN"
    "aWYtbm9uZS1tYXRjaAAAAAhpZi1yYW5nZQAAABNpZi11bm1vZGlmaWVkLXNpbmNlAAAADWxhc3QtbW9kaWZpZWQAAAAIbG9j"
    "YXRpb24AAAAMbWF4LWZvcndhcmRzAAAABnByYWdtYQAAABJwcm94eS1hdXRoZW50aWNhdGUAAAATcHJveHktYXV0aG9yaXph"
    "dGlvbgAAAAVyYW5nZQAAAAdyZWZlcmVyAAAAC3JldHJ5LWFmdGVyAAAABnNlcnZlcgAAAAJ0ZQAAAAd0cmFpbGVyAAAAEXRy"
    "YW5zZmVyLWVuY29kaW5nAAAAB3VwZ3JhZGUAAAAKdXNlci1hZ2VudAAAAAR2YXJ5AAAAA3ZpYQAAAAd3YXJuaW5nAAAAEHd3"
    "dy1hdXRoZW50aWNhdGUAAAAGbWV0aG9kAAAAA2dldAAAAAZzdGF0dXMAAAAGMjAwIE9LAAAAB3ZlcnNpb24AAAAISFRUUC8x"
    "LjEAAAADdXJsAAAABnB1YmxpYwAAAApzZXQtY29va2llAAAACmtlZXAtYWxpdmUAAAAGb3JpZ2luMTAwMTAxMjAxMjAyMjA1"
    "MjA2MzAwMzAyMzAzMzA0MzA1MzA2MzA3NDAyNDA1NDA2NDA3NDA4NDA5NDEwNDExNDEyNDEzNDE0NDE1NDE2NDE3NTAyNTA0"
    "NTA1MjAzIE5vbi1BdXRob3JpdGF0aXZlIEluZm9ybWF0aW9uMjA0IE5vIENvbnRlbnQzMDEgTW92ZWQgUGVybWFuZW50bHk0"
    "MDAgQmFkIFJlcXVlc3Q0MDEgVW5hdXRob3JpemVkNDAzIEZvcmJpZGRlbjQwNCBOb3QgRm91bmQ1MDAgSW50ZXJuYWwgU2Vy"
    "dmVyIEVycm9yNTAxIE5vdCBJbXBsZW1lbnRlZDUwMyBTZXJ2aWNlIFVuYXZhaWxhYmxlSmFuIEZlYiBNYXIgQXByIE1heSBK"
    "dW4gSnVsIEF1ZyBTZXB0IE9jdCBOb3YgRGVjIDAwOjAwOjAwIE1vbiwgVHVlLCBXZWQsIFRodSwgRnJpLCBTYXQsIFN1biwg"
    "R01UY2h1bmtlZCx0ZXh0L2h0bWwsaW1hZ2UvcG5nLGltYWdlL2pwZyxpbWFnZS9naWYsYXBwbGljYXRpb24veG1sLGFwcGxp"
    "Y2F0aW9uL3hodG1sK3htbCx0ZXh0L3BsYWluLHRleHQvamF2YXNjcmlwdCxwdWJsaWNwcml2YXRlbWF4LWFnZT1nemlwLGRl"
    "ZmxhdGUsc2RjaGNoYXJzZXQ9dXRmLThjaGFyc2V0PWlzby04ODU5LTEsdXRmLSwqLGVucT0wLg=="
)
assert len(DICTIONARY) == 1423 and zlib.adler32(DICTIONARY) == 0xE3C6A7C2


def control(kind, flags, payload):
    return struct.pack(">HHI", 0x8003, kind, (flags << 24) | len(payload)) + payload


def split_frames(data):
    """Whole frames at the front of data as (is_control, type, stream_id, flags, payload), and the rest.
    stream_id is the first word of the payload for control frames (SYN_REPLY, RST_STREAM …)."""
    frames = []
    while len(data) >= 8:
        length = struct.unpack(">I", data[4:8])[0] & 0xFFFFFF
        if len(data) < 8 + length:
            break
        frame, data = data[:8 + length], data[8 + length:]
        if frame[0] & 0x80:
            stream_id = struct.unpack(">I", frame[8:12])[0] & 0x7FFFFFFF if length >= 4 else 0
            frames.append((True, struct.unpack(">H", frame[2:4])[0], stream_id, frame[4], frame[8:]))
        else:
            frames.append((False, 0, struct.unpack(">I", frame[0:4])[0] & 0x7FFFFFFF, frame[4], frame[8:]))
    return frames, data


def read_upgrade_response(sock, protocol_header):
    """Reads the HTTP response head: (status, values of protocol_header, bytes after the head)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head else 0
    protocol = [l.split(b":", 1)[1].strip().decode() for l in head.split(b"\r\n") if l.lower().startswith(protocol_header)]
    return status, protocol, rest


def main():
    url = urllib.parse.urlparse(sys.argv[1])
    stdin_text = sys.argv[sys.argv.index("--stdin") + 1].encode() if "--stdin" in sys.argv else None
    tty = "--tty" in sys.argv
    want_stderr = "--no-stderr" not in sys.argv and not tty
    # --steps "resize:100x40;sleep:0.3;stdin:x\n;wait:40 100;close-stdin": an interactive session.
    steps = [s for s in sys.argv[sys.argv.index("--steps") + 1].split(";") if s] if "--steps" in sys.argv else []
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    if url.scheme == "https":  # verified against --cafile (the test's own CA), name and all
        context = ssl.create_default_context(cafile=sys.argv[sys.argv.index("--cafile") + 1] if "--cafile" in sys.argv else None)
        sock = context.wrap_socket(sock, server_hostname=url.hostname)
    versions = (sys.argv[sys.argv.index("--versions") + 1] if "--versions" in sys.argv else "v4.channel.k8s.io,channel.k8s.io").split(",")
    offered = "".join(f"X-Stream-Protocol-Version: {v}\r\n" for v in versions)
    sock.sendall((f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                  f"{offered}Content-Length: 0\r\n\r\n").encode())
    status, protocol, data = read_upgrade_response(sock, b"x-stream-protocol-version")
    if status != 101:
        print(json.dumps({"status": status}))
        return
    compressor = zlib.compressobj(zdict=DICTIONARY)
    decompressor = zlib.decompressobj(zdict=DICTIONARY)
    wants_stdin = stdin_text is not None or any(s.startswith("stdin:") for s in steps)
    types = (["error"] + (["stdin"] if wants_stdin else []) + ["stdout"] + (["stderr"] if want_stderr else [])
             + (["resize"] if tty else []))
    ids = {}
    for index, kind in enumerate(types):
        stream_id = 1 + 2 * index
        ids[stream_id] = kind
        block = struct.pack(">I", 1) + struct.pack(">I", 10) + b"streamtype" + struct.pack(">I", len(kind)) + kind.encode()
        compressed = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
        sock.sendall(control(1, 0, struct.pack(">IIBB", stream_id, 0, 0, 0) + compressed))
    id_of = {kind: stream_id for stream_id, kind in ids.items()}
    replies, output, finished = set(), {k: b"" for k in types}, set()

    def send(kind, payload, flags=0):
        sock.sendall(struct.pack(">II", id_of[kind], (flags << 24) | len(payload)) + payload)

    def pump(until):
        nonlocal data
        while not until():
            frames, data = split_frames(data)
            for is_control, kind, stream_id, flags, payload in frames:
                if is_control and kind == 2:  # SYN_REPLY
                    decompressor.decompress(payload[4:])
                    replies.add(ids.get(stream_id))
                elif is_control and kind == 7:  # GOAWAY
                    finished.add("goaway")
                elif not is_control:
                    output[ids[stream_id]] += payload
                    if flags & 1:
                        finished.add(ids[stream_id])
            if until() or frames:
                continue
            chunk = sock.recv(65536)
            if not chunk:
                finished.add("goaway")
                return
            data += chunk

    if stdin_text is not None:
        send("stdin", stdin_text, flags=1)
    for step in steps:
        action, _, argument = step.partition(":")
        if action == "resize":
            width, height = argument.split("x")
            send("resize", json.dumps({"Width": int(width), "Height": int(height)}).encode())
        elif action == "sleep":
            time.sleep(float(argument))
        elif action == "stdin":
            send("stdin", argument.encode().decode("unicode_escape").encode("latin-1"))
        elif action == "close-stdin":
            send("stdin", b"", flags=1)
        elif action == "wait":
            pump(lambda: argument.encode() in output["stdout"] or "goaway" in finished)
    pump(lambda: "goaway" in finished or finished.issuperset(set(types) - {"stdin", "resize"}))
    print(json.dumps({"status": status, "protocol": protocol, "replies": sorted(r for r in replies if r),
                      "stdout": output["stdout"].decode(), "stderr": output.get("stderr", b"").decode(),
                      "error": output["error"].decode()}))


if __name__ == "__main__":
    main()
