#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into Fuzz/corpus/<target>/.

The seeds are committed; run this only to change them (python3 Fuzz/make-corpus.py). Each is a
small, real-looking input of its parser: libFuzzer mutates from there, so a seed that reaches
deep (a valid tar, a real manifest, a compressed SPDY header block) saves hours of guessing.
"""
import io
import json
import os
import struct
import tarfile
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
HEX = "6b1e7e2bd3e4d4e9c2f6a1a4e7d3c5b9a8f7e6d5c4b3a2918070605040302010"
HEX2 = "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
HEX3 = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"


def write(target, name, data):
    directory = os.path.join(ROOT, target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- tar

def tar(entries, fmt):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for info, content in entries:
            archive.addfile(info, io.BytesIO(content) if content is not None else None)
    data = buffer.getvalue()
    # tarfile pads to a 10 KiB record; keep only the two end-of-archive blocks.
    end = len(data)
    while end > 0 and data[end - 1] == 0:
        end -= 1
    end = (end + 511) // 512 * 512
    return data[:end] + bytes(1024)


def info(name, kind=tarfile.REGTYPE, size=0, link="", mode=0o644, **pax):
    entry = tarfile.TarInfo(name)
    entry.type = kind
    entry.size = size
    entry.linkname = link
    entry.mode = mode
    entry.uid = entry.gid = 0
    entry.uname = entry.gname = "root"
    entry.mtime = 1700000000
    if pax:
        entry.pax_headers = pax
    return entry


hello = b"hello from a layer\n"
basic = [
    (info("etc/", tarfile.DIRTYPE, mode=0o755), None),
    (info("etc/hostname", size=len(hello)), hello),
    (info("bin/sh", tarfile.SYMTYPE, link="busybox", mode=0o777), None),
    (info("bin/ls", tarfile.LNKTYPE, link="bin/busybox"), None),
    (info("dev/null", tarfile.CHRTYPE, mode=0o666), None),
    (info("etc/.wh.old.conf"), None),
]
write("tar", "ustar.tar", tar(basic, tarfile.USTAR_FORMAT))
write("tar", "pax.tar", tar([
    (info("usr/", tarfile.DIRTYPE, mode=0o755), None),
    (info("usr/" + "long-directory-name/" * 6 + "file.txt", size=len(hello), mtime="1700000000.123456789",
          **{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02", "uid": "100000", "gid": "100000"}), hello),
    (info("usr/link", tarfile.SYMTYPE, link="target/" * 20 + "end"), None),
    (info("usr/.wh..wh..opq"), None),
], tarfile.PAX_FORMAT))
write("tar", "gnu.tar", tar([
    (info("opt/" + "n" * 120, size=5), b"12345"),
    (info("opt/hard", tarfile.LNKTYPE, link="opt/" + "n" * 120), None),
    (info("opt/fifo", tarfile.FIFOTYPE), None),
], tarfile.GNU_FORMAT))



def base256(data, offset, width, value):
    """GNU base-256: the high bit of the first byte set, the number big-endian in the rest."""
    field = bytearray(value.to_bytes(width, "big"))
    field[0] |= 0x80
    data[offset:offset + width] = field


def checksum(data, start):
    data[start + 148:start + 156] = b" " * 8
    data[start + 148:start + 156] = ("%06o\0 " % sum(data[start:start + 512])).encode()


# Sizes and owners in base-256, as GNU tar writes them past the octal fields' range.
big = bytearray(tar([(info("var/big", size=5), b"12345"), (info("var/dev", tarfile.BLKTYPE), None)], tarfile.GNU_FORMAT))
base256(big, 124, 12, 5)
base256(big, 108, 8, 70000)
checksum(big, 0)
base256(big, 1024 + 124, 12, 0)
checksum(big, 1024)
write("tar", "gnu-base256.tar", bytes(big))

# ---------------------------------------------------------------- image references

for index, text in enumerate([
    "busybox",
    "busybox:1.36",
    "docker.io/library/busybox:1.36@sha256:" + HEX,
    "registry.k8s.io/pause:3.10",
    "localhost:5000/team/app_v2__x-y.z:v1.0-rc.1",
    "index.docker.io/library/nginx@sha256:" + HEX2,
    "ghcr.io/owner/repo/sub/image:latest",
    "[::1]:5000/x",
    "quay.io/org/image@sha512:" + HEX + HEX2,
    "Registry.Example:443/a/b",
]):
    write("reference", "ref-%02d.txt" % index, text)

# ---------------------------------------------------------------- manifests, indexes, configs
# A selector byte first: low bits pick the claimed Content-Type, high bits the config's layer count.

def descriptor(media_type, hex_digest, size, platform=None, annotations=None):
    value = {"mediaType": media_type, "digest": "sha256:" + hex_digest, "size": size}
    if platform:
        value["platform"] = platform
    if annotations:
        value["annotations"] = annotations
    return value


index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        descriptor("application/vnd.oci.image.manifest.v1+json", HEX, 1024, {"architecture": "amd64", "os": "linux"}),
        descriptor("application/vnd.oci.image.manifest.v1+json", HEX2, 1025, {"architecture": "arm64", "os": "linux", "variant": "v8"}),
        descriptor("application/vnd.oci.image.manifest.v1+json", HEX3, 1026, {"architecture": "arm", "os": "linux", "variant": "v7"},
                   {"org.opencontainers.image.ref.name": "1.36"}),
    ],
}
docker_list = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests": [descriptor("application/vnd.docker.distribution.manifest.v2+json", HEX, 528, {"architecture": "x86_64", "os": "linux"})],
}
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": descriptor("application/vnd.oci.image.config.v1+json", HEX, 581),
    "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", HEX2, 2152262),
               descriptor("application/vnd.oci.image.layer.v1.tar+zstd", HEX3, 1000)],
    "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
}
docker_manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": descriptor("application/vnd.docker.container.image.v1+json", HEX, 1457),
    "layers": [descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", HEX2, 2591575)],
}
config = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2024-01-01T00:00:00Z",
    "config": {
        "User": "1000:1000", "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["sh"], "WorkingDir": "/", "Labels": {"a": "b"},
        "StopSignal": "SIGTERM", "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}},
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + HEX2, "sha256:" + HEX3]},
    "history": [{"created_by": "ADD rootfs.tar.xz /"}],
}
write("manifest", "oci-index.json", bytes([0x01]) + json.dumps(index, indent=1).encode())
write("manifest", "docker-list.json", bytes([0x05]) + json.dumps(docker_list).encode())
write("manifest", "oci-manifest.json", bytes([0x02]) + json.dumps(manifest, indent=1).encode())
write("manifest", "docker-manifest.json", bytes([0x00]) + json.dumps(docker_manifest).encode())
write("manifest", "config-2-layers.json", bytes([0x20]) + json.dumps(config).encode())

# ---------------------------------------------------------------- WWW-Authenticate

for index, text in enumerate([
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
    'Basic realm="Registry Realm"',
    'bearer realm="https://ghcr.io/token", service="ghcr.io" ,scope="repository:o/r:pull,push"',
    'Bearer realm="https://example.com/t?x=1",error="insufficient_scope",error_description="a \\"quoted\\" word"',
    'Bearer realm=https://unquoted.example/token,service=svc',
    'Negotiate',
]):
    write("auth", "challenge-%d.txt" % index, text)

# ---------------------------------------------------------------- SPDY/3.1
# A mode byte first: even = a frame stream (mode >> 1 + 1 is the chunk size), odd = one raw header block.

WORDS = [
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location",
    "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
    "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified",
    "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
    "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via",
    "warning", "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
    "public", "set-cookie", "keep-alive", "origin",
]
TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
        "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in WORDS) + TAIL.encode()
assert len(DICTIONARY) == 1423


def header_block(pairs):
    raw = struct.pack(">I", len(pairs))
    for name, value in pairs:
        raw += struct.pack(">I", len(name)) + name.encode() + struct.pack(">I", len(value)) + value.encode()
    return raw


class Deflater:
    """One direction of a connection: one zlib stream, sync-flushed after every block."""

    def __init__(self):
        self.stream = zlib.compressobj(zdict=DICTIONARY)

    def block(self, pairs):
        return self.stream.compress(header_block(pairs)) + self.stream.flush(zlib.Z_SYNC_FLUSH)


def control(kind, flags, payload):
    return struct.pack(">HHI", 0x8000 | 3, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream, flags, payload):
    return struct.pack(">II", stream & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


def syn_stream(deflater, stream, pairs, flags=0):
    return control(1, flags, struct.pack(">IIBB", stream, 0, 0, 0) + deflater.block(pairs))


deflater = Deflater()
exec_streams = b"".join([
    syn_stream(deflater, 1, [("streamtype", "error")]),
    syn_stream(deflater, 3, [("streamtype", "stdin")]),
    syn_stream(deflater, 5, [("streamtype", "stdout")]),
    syn_stream(deflater, 7, [("streamtype", "resize")]),
    data_frame(3, 0, b"echo hi\n"),
    data_frame(7, 0, b'{"Width":80,"Height":24}'),
    data_frame(3, 1, b""),
    control(6, 0, struct.pack(">I", 1)),
])
write("spdy", "exec-streams.bin", bytes([0x00]) + exec_streams)
deflater = Deflater()
write("spdy", "portforward-streams.bin", bytes([0x06]) + b"".join([
    syn_stream(deflater, 1, [("streamtype", "error"), ("port", "80"), ("requestid", "0")]),
    syn_stream(deflater, 3, [("streamtype", "data"), ("port", "80"), ("requestid", "0")]),
    data_frame(3, 0, b"GET / HTTP/1.0\r\n\r\n"),
    control(3, 0, struct.pack(">II", 3, 5)),
]))
write("spdy", "control-frames.bin", bytes([0x02]) + b"".join([
    control(4, 0, struct.pack(">I", 2) + struct.pack(">II", 0x01000004, 1000) + struct.pack(">II", 0x00000007, 65536)),
    control(6, 0, struct.pack(">I", 2)),
    control(9, 0, struct.pack(">II", 1, 65536)),
    control(2, 0, struct.pack(">I", 1) + Deflater().block([(":status", "200")])),
    control(8, 0, struct.pack(">I", 1) + Deflater().block([("x", "a\x00b")])),
    control(7, 0, struct.pack(">II", 7, 0)),
    struct.pack(">HHI", 0x8000 | 2, 1, 4) + b"\0\0\0\1",
]))
write("spdy", "header-block.bin", bytes([0x01]) + header_block([("streamtype", "stdout"), ("Port", "8080"), ("multi", "a\x00b")]))

# ---------------------------------------------------------------- streaming upgrades
# XTOKEN, ATOKEN and PTOKEN are replaced by live exec, attach and port-forward tokens.

ws_key = "dGhlIHNhbXBsZSBub25jZQ=="


def ws_frame(opcode, payload, mask=b"\x01\x02\x03\x04"):
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


write("upgrade", "websocket-exec.http",
      ("GET /exec/XTOKEN HTTP/1.1\r\nHost: 127.0.0.1:10010\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n\r\n" % ws_key).encode()
      + ws_frame(2, b"\x04" + b'{"Width":120,"Height":40}') + ws_frame(2, b"\x00ls\n") + ws_frame(2, b"\xff\x00"))
write("upgrade", "websocket-attach.http",
      "GET /attach/ATOKEN?stdin=true HTTP/1.1\r\nHost: node\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n" % ws_key)
write("upgrade", "websocket-portforward.http",
      "GET /portforward/PTOKEN HTTP/1.1\r\nHost: node\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n" % ws_key)
deflater = Deflater()
write("upgrade", "spdy-exec.http",
      b"POST /exec/XTOKEN?command=sh&input=1&output=1&tty=0 HTTP/1.1\r\nHost: node\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
      b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: v3.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
      + syn_stream(deflater, 1, [("streamtype", "error")]) + syn_stream(deflater, 3, [("streamtype", "stdin")])
      + syn_stream(deflater, 5, [("streamtype", "stdout")]) + syn_stream(deflater, 7, [("streamtype", "stderr")]))
write("upgrade", "spdy-portforward.http",
      b"POST /portforward/PTOKEN HTTP/1.1\r\nHost: node\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
      b"X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n"
      + syn_stream(Deflater(), 1, [("streamtype", "error"), ("port", "80"), ("requestid", "1")]))
write("upgrade", "plain-get.http", "GET /exec/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: node\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n")
write("upgrade", "wrong-kind.http",
      "GET /attach/XTOKEN HTTP/1.1\r\nHost: node\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n" % ws_key)

# ---------------------------------------------------------------- skiff.toml

write("toml", "skiff.toml", """# skiffd configuration
root_dir = "/var/lib/skiff"
state_dir = "/run/skiff"
log_level = "info"
log_format = "json"

[grpc]
socket = "/run/skiff/skiff.sock"
socket_group = "kube"
shutdown_timeout = "10s"

[runtime]
default_handler = "runc"
conmon_path = "/usr/bin/conmon"
cgroup_driver = "cgroupfs"
shm_size_mib = 64
pause_image = "registry.k8s.io/pause:3.10"

[runtime.handlers.runc]
runtime_path = "runc"
runtime_root = ""

[runtime.handlers.crun]
runtime_path = "/usr/bin/crun"

[network]
cni_conf_dir = "/etc/cni/net.d"
cni_bin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]

[images]
stall_timeout = "1m30s"
max_concurrent_downloads = 3

[images.registries."registry.example.com:5000"]
mirrors = ["https://mirror.example.com", "mirror2:5000"]
insecure = false
ca_file = "/etc/skiff/ca.pem"

[streaming]
address = "127.0.0.1"
port = 10010
idle_timeout = "4h"
""")
SYNTAX_TOML = "\n".join([
    r'title = "TOML \"syntax\" \u00e9\U0001F600"',
    r"literal = 'C:\path'",
    'multi = """',
    'line one \\',
    '  continued',
    '"""',
    "raw = " + "'" * 3,
    'raw "text"' + "'" * 3,
    "ints = [0x1F, 0o17, 0b101, -17, +42, 1_000]",
    "floats = [3.14, -0.01, 5e+22, 1e06, -2E-2, inf, -inf, nan]",
    "bools = [true, false]",
    "dates = [1979-05-27T07:32:00Z, 1979-05-27 07:32:00.999, 07:32:00, 1979-05-27]",
    'inline = { x = 1, y.z = "two", "quoted key" = [] }',
    "a.b.c = 1",
    "a.d = 2",
    "",
    "[[products]]",
    'name = "Hammer"',
    "sku = 738594937",
    "",
    "[[products]]",
    "",
    "[[products]]",
    'name = "Nail"',
    'color = "gray"',
    "",
    '[table."with dots".x]',
    "\"key with spaces\" = 'value'",
]) + "\n"
write("toml", "syntax.toml", SYNTAX_TOML)
write("toml", "errors.toml", """[runtime]
default_handler = "kata"
[runtime.handlers.runc]
runtime_path = "runc"
unknown_key = 1
[images]
max_concurrent_downloads = 99
""")

# ---------------------------------------------------------------- CNI

write("cni", "bridge-result.json", json.dumps({
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "cni0", "mac": "6a:5c:1d:aa:bb:cc"}, {"name": "eth0", "mac": "ea:d5:aa:bb:cc:dd", "sandbox": "/run/netns/x"}],
    "ips": [{"address": "10.85.0.5/16", "gateway": "10.85.0.1", "interface": 1},
            {"address": "fd00::5/64", "gateway": "fd00::1", "interface": 1}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {"nameservers": ["10.96.0.10"]},
}, indent=2))
write("cni", "old-result.json", json.dumps({
    "cniVersion": "0.3.1",
    "ip4": {"ip": "10.1.0.2/24", "gateway": "10.1.0.1"},
    "ips": [{"version": "4", "address": "10.1.0.2/24"}],
}))
write("cni", "conflist.json", json.dumps({
    "cniVersion": "1.0.0",
    "name": "skiff-net",
    "plugins": [
        {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.85.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
        {"type": "bandwidth", "capabilities": {"bandwidth": True}},
    ],
}, indent=2))
write("cni", "single.conf", json.dumps({"cniVersion": "0.4.0", "name": "lo", "type": "loopback"}))
write("cni", "error.json", json.dumps({"cniVersion": "1.0.0", "code": 7, "msg": "failed to allocate", "details": "range full"}))

# ---------------------------------------------------------------- cdi

CDI_SPEC = {
    "cdiVersion": "0.7.0",
    "kind": "vendor.example/gpu",
    "annotations": {"vendor.example/driver": "1.2"},
    "containerEdits": {
        "env": ["GPU_DRIVER=1.2"],
        "hooks": [{"hookName": "createContainer", "path": "/usr/bin/gpu-hook", "args": ["gpu-hook", "update"], "timeout": 10}],
        "mounts": [{"hostPath": "/usr/lib/gpu", "containerPath": "/usr/lib/gpu", "options": ["rbind", "ro", "nosuid"], "type": "bind"}],
        "additionalGids": [44],
    },
    "devices": [
        {"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/gpu0", "hostPath": "/dev/gpu0", "permissions": "rw"}]}},
        {"name": "GPU-1a2b:3", "annotations": {"uuid": "1a2b"}, "containerEdits": {
            "deviceNodes": [{"path": "/dev/gpu1", "type": "c", "major": 195, "minor": 1, "fileMode": 438, "uid": 0, "gid": 44}],
            "intelRdt": {"closID": "gpu"}}},
    ],
}
write("cdi", "spec.json", json.dumps(CDI_SPEC, indent=2))
write("cdi", "spec.yaml", """---
cdiVersion: 0.5.0
kind: vendor.example/null
containerEdits:
  env: [SPEC_LEVEL=1]
devices:
  - name: "0"
    containerEdits:
      env:
        - NULL_DEVICE=0
      deviceNodes:
        - path: /dev/cdi-null
          hostPath: /dev/null
      mounts:
        - hostPath: /tmp
          containerPath: /cdi
          options: [rbind, ro]
  - &fifo
    name: fifo
    containerEdits:
      deviceNodes: [{path: /dev/fifo, type: p}]
""")
write("cdi", "minimal.json", json.dumps({"cdiVersion": "0.3.0", "kind": "a/b", "devices": [{"name": "c", "containerEdits": {"env": ["A=1"]}}]}))
