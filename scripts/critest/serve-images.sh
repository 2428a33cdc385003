#!/usr/bin/env bash
# Serves critest's images offline: starts Debian's docker-registry on 127.0.0.1:$PORT, pushes
# Skiff's fixture images (skiff-fixture) under the exact repository paths and tags critest pulls
# (registry.k8s.io/…, gcr.io/…, k8s.gcr.io/…, public.ecr.aws/…), and prints the skiffd TOML that
# mirrors those registries to it. docs/critest.md says what each image stands in for.
#
#   serve-images.sh [start]   start (or reuse) the registry, push, print the TOML
#   serve-images.sh toml      print the TOML only
#   serve-images.sh stop      stop the registry this script started
#
# Env:
#   CRITEST_DIR   work directory: registry storage, built helpers (default: <repo>/.build/critest)
#   PORT          registry port (5055)
#   FIXTURE       skiff-fixture binary (<repo>/.build/debug/skiff-fixture)
#   BUSYBOX       static busybox for the plain images (/bin/busybox, Debian's busybox-static)
#   DYN_BUSYBOX   dynamically linked busybox (Debian's `busybox` package, unpacked: see below).
#                 Default: $CRITEST_DIR/busybox-dynamic/bin/busybox, unpacked there from
#                 $BUSYBOX_DEB (a busybox_*.deb, e.g. from `apt-get download busybox`) if missing.
#   PGREP, IPCS   host binaries added to the busybox image (/usr/bin/pgrep, /usr/bin/ipcs)
#   CC            C compiler for the nonewprivs helper (cc)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
CRITEST_DIR=${CRITEST_DIR:-$repo/.build/critest}
PORT=${PORT:-5055}
FIXTURE=${FIXTURE:-$repo/.build/debug/skiff-fixture}
BUSYBOX=${BUSYBOX:-/bin/busybox}
DYN_BUSYBOX=${DYN_BUSYBOX:-$CRITEST_DIR/busybox-dynamic/bin/busybox}
PGREP=${PGREP:-/usr/bin/pgrep}
IPCS=${IPCS:-/usr/bin/ipcs}
CC=${CC:-cc}
reg=$CRITEST_DIR/registry
build=$CRITEST_DIR/build
pidfile=$reg/registry.pid
url=http://127.0.0.1:$PORT

toml() {
  cat <<EOF
[images.registries."registry.k8s.io"]
mirrors = ["$url"]
[images.registries."k8s.gcr.io"]
mirrors = ["$url"]
[images.registries."gcr.io"]
mirrors = ["$url"]
[images.registries."public.ecr.aws"]
mirrors = ["$url"]
EOF
}

running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-start}" in
  toml) toml; exit 0 ;;
  stop)
    if running; then kill "$(cat "$pidfile")"; echo "registry stopped" >&2; fi
    rm -f "$pidfile"; exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|toml|stop]" >&2; exit 2 ;;
esac

[ -x "$FIXTURE" ] || { echo "no skiff-fixture at $FIXTURE (swift build --product skiff-fixture, or set FIXTURE=)" >&2; exit 1; }
"$FIXTURE" standard --help 2>&1 | grep -q -- --host-file \
  || { echo "$FIXTURE predates --host-file: rebuild it (swift build --product skiff-fixture)" >&2; exit 1; }

# --- what the real-process images are made of --------------------------------------------------
# Debian's static busybox runs applets inside the shell (no separate `sleep` process for pgrep to
# find, no EACCES from a masked /bin/ls); the dynamic one execs them, like the real images. It
# conflicts with busybox-static as a package, so it is only unpacked.
if [ ! -x "$DYN_BUSYBOX" ]; then
  [ -n "${BUSYBOX_DEB:-}" ] || { echo "no dynamic busybox at $DYN_BUSYBOX: set DYN_BUSYBOX= or BUSYBOX_DEB= (apt-get download busybox)" >&2; exit 1; }
  mkdir -p "$CRITEST_DIR/busybox-dynamic"
  dpkg-deb -x "$BUSYBOX_DEB" "$CRITEST_DIR/busybox-dynamic"
  DYN_BUSYBOX=$CRITEST_DIR/busybox-dynamic/bin/busybox
fi
mkdir -p "$build"
# critest's nonewprivs image: a setuid-root program printing its effective uid.
if [ ! -x "$build/nnp" ] || [ "$here/nnp.c" -nt "$build/nnp" ]; then
  "$CC" -O2 -o "$build/nnp" "$here/nnp.c"
fi
# The shared libraries of these binaries, each at its host path (ldd: "name => /path (addr)" or
# "/lib64/ld-linux-x86-64.so.2 (addr)").
libraries() { ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u; }
lib_args=()
for lib in $(libraries "$DYN_BUSYBOX" "$PGREP" "$IPCS" "$build/nnp"); do lib_args+=(--host-file "$lib"); done
# A dynamic busybox with every applet it has hard-linked in /bin (as in the real images: the specs
# run netstat, pidof, …, and masking /bin/ls must not mask /bin/sh), procps' pgrep, util-linux's
# ipcs, and the libraries they all need.
real=(--busybox "$DYN_BUSYBOX" --applet-links hard --host-file "$PGREP" --host-file "$IPCS" "${lib_args[@]}")
for applet in $("$DYN_BUSYBOX" --list); do real+=(--applet "$applet"); done

# --- registry ----------------------------------------------------------------------------------
mkdir -p "$reg/data" "$reg/variants"
if ! running; then
  cat > "$reg/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $reg/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
EOF
  setsid docker-registry serve "$reg/config.yml" >"$reg/registry.log" 2>&1 </dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 100); do curl -sf "$url/v2/" >/dev/null && break; sleep 0.1; done
  curl -sf "$url/v2/" >/dev/null || { echo "docker-registry did not start:" >&2; cat "$reg/registry.log" >&2; exit 1; }
  echo "docker-registry on $url (pid $(cat "$pidfile"), storage $reg/data)" >&2
else
  echo "docker-registry already running on $url (pid $(cat "$pidfile"))" >&2
fi

# A busybox binary with a few trailing bytes: still runs, but makes a distinct image (critest
# wants test-image-1/2/3 to be different images).
variant() { local f=$reg/variants/busybox-$1; [ -f "$f" ] || { cp "$BUSYBOX" "$f"; printf 'skiff variant %s\n' "$1" >> "$f"; chmod 755 "$f"; }; echo "$f"; }

push() { # kind repo tag [extra fixture args]
  local kind=$1 repo=$2 tag=$3; shift 3
  "$FIXTURE" "$kind" --registry "$url" --repository "$repo" --tag "$tag" "$@" >/dev/null
  printf '  %-8s %s:%s\n' "$kind" "$repo" "$tag" >&2
}

echo "pushing:" >&2
# registry.k8s.io (framework defaults, benchmarks and validation)
# defaultTestContainerImage: real processes (execSync timeout → pgrep, HostIpc → ipcs, HostPID →
# pidof, MaskedPaths → a hard-linked /bin/ls); busybox has nobody/nogroup.
push standard e2e-test-images/busybox 1.29-2 "${real[@]}" \
  --passwd-line 'nobody:x:65534:65534:nobody:/home:/bin/false' --group-line 'nogroup:x:65534:'
# webServerTestImage and the namespace specs' nginx: pid file, process named nginx, "master process".
push web      e2e-test-images/nginx 1.14-2 "${real[@]}" --nginx
# multi-container spec: waits for "httpd" in its log, as Apache's start-up warning has.
push web      e2e-test-images/httpd 2.4.39-4 "${real[@]}" \
  --banner "httpd: skiff fixture standing in for Apache httpd, serving /www on port 80"
# NoNewPrivs specs: a setuid-root entrypoint printing "Effective uid: N".
push standard e2e-test-images/nonewprivs 1.3 "${real[@]}" --host-file "$build/nnp:/usr/local/bin/nnp:4755" \
  --entrypoint /usr/local/bin/nnp
push standard pause 3.9                                 # registry.k8s.io/pause:3.9 and k8s.gcr.io/pause:3.9
push standard pause 3.10                                # skiffd's runtime.pause_image default
# gcr.io/k8s-staging-cri-tools (image and networking specs)
s=k8s-staging-cri-tools
push web      $s/hostnet-nginx-amd64 latest --port 12003
push standard $s/test-image-latest latest --busybox "$(variant latest)"
push standard $s/test-image-tag test --busybox "$(variant tag)"
push standard $s/test-image-tag all --busybox "$(variant tag)"
for n in 1 2 3; do push standard $s/test-image-$n latest --busybox "$(variant $n)"; done
for n in 1 2 3; do push standard $s/test-image-tags $n; done
# public.ecr.aws: only for the image benchmark (imagesNumber > 0 in the params file)
for t in 1.35.0-glibc 1-uclibc 1 1-glibc 1-musl; do push standard docker/library/busybox $t --busybox "$(variant ecr-$t)"; done
# Images with their own users (image status Uid/Username, SupplementalGroupsPolicy specs).
push standard $s/test-image-user-uid latest --user 1002 --busybox "$(variant user-uid)"
push standard $s/test-image-user-username latest --user www-data --passwd-line 'www-data:x:33:33:www-data:/var/www:/bin/false' --group-line 'www-data:x:33:' --busybox "$(variant user-username)"
push standard $s/test-image-user-uid-group latest --user 1003:1003 --busybox "$(variant user-uid-group)"
push standard $s/test-image-user-username-group latest --user www-data:www-data --passwd-line 'www-data:x:33:33:www-data:/var/www:/bin/false' --group-line 'www-data:x:33:' --busybox "$(variant user-username-group)"
push standard $s/test-image-predefined-group latest --user 1000 --group-line 'group-defined-in-image:x:50000:app' --busybox "$(variant predefined-group)"
# Not served: test-image-digest@sha256:9700f9… names a real public image by its manifest digest.
# A manifest is only that digest if it is those exact bytes (and its config and layers those
# exact blobs), which cannot be made offline; the spec needing it fails with a pull error.

echo "--- skiffd TOML (append to its config) ---" >&2
toml
