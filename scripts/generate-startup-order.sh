#!/usr/bin/env bash
# Regenerates Sources/skiffd/link/startup-order.txt, the functions of skiffd in the order the
# release link places them (lld --symbol-ordering-file, Package.swift): those that its start, a
# Version call, an image list and the heap trimmer run, in address order. An idle skiffd keeps
# resident every code page its start touched, and the kernel maps code around each fault: with
# that code side by side it is ~2 MiB of pages instead of pieces of ~10 MiB (docs/performance.md).
# A stale file costs memory, never correctness: a name that no longer exists is skipped. Run it
# after changes to start-up, gRPC serving or the dependencies (root; valgrind from apt):
#   bash scripts/build-release.sh && bash scripts/generate-startup-order.sh
# then build again: the script removes the release skiffd, because SwiftPM does not relink it
# when only the order file changed. SKIFFD=path and SKIFF=path profile other builds than the
# release ones of this tree (skiffd's helpers, skiff-pinns, skiff-pause and skiff-sandbox-shim,
# beside it); such a binary is left alone.
# (Profiling a critest run under valgrind as well does not work: valgrind 3.19 does not know the
# pidfd_open and openat2 calls skiffd's process handling makes.)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
command -v valgrind >/dev/null || { echo "generate-startup-order: valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
bin=$(swift build -c release --show-bin-path)
relink=
[ -n "${SKIFFD:-}" ] || relink=1
SKIFFD=$(readlink -f "${SKIFFD:-$bin/skiffd}")
SKIFF=${SKIFF:-$bin/skiff}
for tool in "$SKIFFD" "$SKIFF"; do
    [ -x "$tool" ] || { echo "generate-startup-order: $tool missing (bash scripts/build-release.sh)" >&2; exit 2; }
done
dir=$(mktemp -d /tmp/skiff-order-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
# valgrind cannot read the DWARF 5 of Swift objects; the symbol table is all it needs. skiffd
# finds its helpers beside its own file.
mkdir "$dir/bin"
strip --strip-debug -o "$dir/bin/skiffd.profiled" "$SKIFFD"
for helper in skiff-pinns skiff-pause skiff-sandbox-shim; do
    [ -x "$(dirname "$SKIFFD")/$helper" ] && ln -s "$(dirname "$SKIFFD")/$helper" "$dir/bin/$helper"
done

# Start, Version, image list, heap trimmer.
printf 'root_dir = "%s/root"\nstate_dir = "%s/state"\n[grpc]\nsocket = "%s/state/skiff.sock"\n' "$dir" "$dir" "$dir" >"$dir/skiff.toml"
valgrind --tool=callgrind --callgrind-out-file="$dir/start.callgrind" --demangle=no \
    "$dir/bin/skiffd.profiled" --config "$dir/skiff.toml" >"$dir/log" 2>&1 &
pid=$!
ready=
for _ in $(seq 1 300); do
    "$SKIFF" version --socket "$dir/state/skiff.sock" >/dev/null 2>&1 && { ready=1; break; }
    sleep 0.2
done
[ -n "$ready" ] || { echo "generate-startup-order: skiffd under valgrind did not answer; its log:" >&2; cat "$dir/log" >&2; exit 1; }
"$SKIFF" image ls --socket "$dir/state/skiff.sock" >/dev/null
# The heap trimmer runs 5 s after the calls; its code belongs to an idle daemon too.
sleep 7
kill -INT "$pid"
wait "$pid" || true
pid=

python3 "$repo/scripts/startup-order.py" "$dir/bin/skiffd.profiled" "$dir/start.callgrind" >"$repo/Sources/skiffd/link/startup-order.txt"
echo "generate-startup-order: $(wc -l <"$repo/Sources/skiffd/link/startup-order.txt") functions in Sources/skiffd/link/startup-order.txt"
if [ -n "$relink" ]; then
    rm -f "$SKIFFD"
    echo "generate-startup-order: removed $SKIFFD; bash scripts/build-release.sh skiffd links it with the new order"
fi
