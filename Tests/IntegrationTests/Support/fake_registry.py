#!/usr/bin/env python3
"""A deliberately misbehaving OCI registry for Skiff's tests: it serves the files of a directory
as manifests and blobs, and can lie about them (truncate, stall) to exercise the client's
defences. Real pulls are tested against Debian's docker-registry; this one only serves what no
honest registry would.

Usage: fake_registry.py DIR PORTFILE
  DIR/manifests/<repo with / as _>/<reference>      manifest bytes (Content-Type from *.type beside it)
  DIR/blobs/<hex>                                   blob bytes
  DIR/behaviour/<hex>                               "truncate" (send half, close), "stall" (send
                                                    headers and half, then nothing), "flaky" (answer
                                                    503 twice, then the blob) or "redirect" (307 to
                                                    /storage/<hex>, as registries send to blob storage)
Binds 127.0.0.1 on a free port and writes the port to PORTFILE.
"""
import http.server
import os
import sys
import time

ROOT = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith("/storage/"):
            file = os.path.join(ROOT, "blobs", path.split("/")[-1])
            if self.headers.get("Authorization"):
                return self.reply(400, b"credentials must not follow a redirect", "text/plain")
            return self.reply(200, open(file, "rb").read(), "application/octet-stream")
        if path in ("/v2/", "/v2"):
            return self.reply(200, b"{}", "application/json")
        parts = path.split("/")
        if len(parts) < 5 or parts[1] != "v2":
            return self.reply(404, b"{}", "application/json")
        kind, reference = parts[-2], parts[-1]
        repository = "_".join(parts[2:-2])
        if kind == "manifests":
            file = os.path.join(ROOT, "manifests", repository, reference.replace(":", "_"))
            if not os.path.exists(file):
                return self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', "application/json")
            media = open(file + ".type").read().strip() if os.path.exists(file + ".type") else "application/vnd.oci.image.manifest.v1+json"
            return self.reply(200, open(file, "rb").read(), media)
        if kind == "blobs":
            digest_hex = reference.split(":")[-1]
            file = os.path.join(ROOT, "blobs", digest_hex)
            if not os.path.exists(file):
                return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', "application/json")
            data = open(file, "rb").read()
            behaviour_file = os.path.join(ROOT, "behaviour", digest_hex)
            behaviour = open(behaviour_file).read().strip() if os.path.exists(behaviour_file) else ""
            if behaviour == "flaky":
                count_file = os.path.join(ROOT, "behaviour", digest_hex + ".count")
                count = int(open(count_file).read()) if os.path.exists(count_file) else 0
                open(count_file, "w").write(str(count + 1))
                if count < 2:
                    return self.reply(503, b'{"errors":[{"code":"UNAVAILABLE"}]}', "application/json")
            if behaviour == "redirect":
                self.send_response(307)
                self.send_header("Location", "/storage/" + digest_hex)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if behaviour in ("truncate", "stall"):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                if behaviour == "stall":
                    # For tests that act while a transfer is stalled.
                    open(os.path.join(ROOT, "behaviour", digest_hex + ".stalled"), "w").close()
                    time.sleep(30)
                self.close_connection = True
                return
            return self.reply(200, data, "application/octet-stream")
        return self.reply(404, b"{}", "application/json")

    def reply(self, status, body, media):
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(sys.argv[2] + ".tmp", "w") as out:
    out.write(str(server.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
