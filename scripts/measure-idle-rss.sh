#!/usr/bin/env bash
# Measures idle skiffd memory: starts a release skiffd on a private root and socket, makes one
# Version call, waits, and prints VmRSS / RssAnon / RssFile from /proc/PID/status and the
# resident pages per mapped file (scripts/smaps-by-mapping.sh).
# The binary is evicted from the page cache first: file pages already cached are mapped in
# whole fault-around windows or large folios, which moves the figure by ~2 MiB with the
# cache's history (a binary just written by the linker or cp); evicted, runs compare.
# Usage (root): bash scripts/measure-idle-rss.sh
#   SKIFFD=path  measure that binary (nothing is built); otherwise builds release skiffd
#   SKIFF=path   the CLI for the Version call; otherwise the release skiff (built if missing)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if [ -z "${SKIFFD:-}" ]; then
    bash scripts/build-release.sh skiffd >/dev/null
    SKIFFD=$(swift build -c release --show-bin-path)/skiffd
fi
if [ -z "${SKIFF:-}" ]; then
    bin=$(swift build -c release --show-bin-path)
    [ -x "$bin/skiff" ] || bash scripts/build-release.sh skiff >/dev/null
    SKIFF=$bin/skiff
fi
python3 -c 'import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$SKIFFD"
dir=$(mktemp -d /tmp/skiff-rss-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
printf 'root_dir = "%s/root"\nstate_dir = "%s/state"\n[grpc]\nsocket = "%s/state/skiff.sock"\n' "$dir" "$dir" "$dir" > "$dir/skiff.toml"
"$SKIFFD" --config "$dir/skiff.toml" 2>"$dir/log" &
pid=$!
for _ in $(seq 1 100); do "$SKIFF" version --socket "$dir/state/skiff.sock" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 2
echo "skiffd $SKIFFD ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')) idle, after one Version call:"
grep -E 'VmRSS|RssAnon|RssFile|RssShmem|Threads' "/proc/$pid/status"
bash "$repo/scripts/smaps-by-mapping.sh" "$pid"
