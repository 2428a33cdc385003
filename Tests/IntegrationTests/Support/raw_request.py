#!/usr/bin/env python3
"""Sends raw bytes to the streaming server for the malformed-request tests.

usage: raw_request.py HOST PORT REQUEST_B64 [AFTER_B64]
Sends REQUEST ({PAD:N} in it becomes N filler bytes), reads the response head; if AFTER is given (bytes to send once upgraded), sends
it and reads what comes back until the server closes (at most 5 s). Prints one JSON object:
{"status_line": ..., "after": [bytes received after the head], "closed": bool}.
"""
import base64, json, socket, sys, time


def main():
    host, port, request = sys.argv[1], int(sys.argv[2]), base64.b64decode(sys.argv[3])
    # "{PAD:N}" stands for N bytes of filler (a command line cannot carry a huge header).
    while b"{PAD:" in request:
        start = request.index(b"{PAD:")
        end = request.index(b"}", start)
        request = request[:start] + b"a" * int(request[start + 5:end]) + request[end + 1:]
    after = base64.b64decode(sys.argv[4]) if len(sys.argv) > 4 else None
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall(request)
    data, closed = b"", False
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    head, _, rest = data.partition(b"\r\n\r\n")
    received = rest
    if after is not None and not closed:
        sock.sendall(after)
        deadline = time.time() + 5
        try:
            while time.time() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    closed = True
                    break
                received += chunk
        except (socket.timeout, ConnectionResetError):
            closed = True
    elif not closed:
        try:
            sock.settimeout(2)
            closed = sock.recv(1) == b""
        except ConnectionResetError:
            closed = True  # closed with our bytes unread: the kernel answers with RST
        except socket.timeout:
            closed = False
    print(json.dumps({"status_line": head.split(b"\r\n")[0].decode("latin-1"), "after": list(received[:256]), "closed": closed}))


main()
