#!/usr/bin/env bash
# Measures idle skiffd memory: starts a release skiffd on a private root and socket, makes one
# Version call, waits, and prints VmRSS / RssAnon / RssFile from /proc/PID/status.
# Usage (root): bash scripts/measure-idle-rss.sh   (SKIFFD=path measures another build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
swift build -c release --product skiffd >/dev/null
swift build -c release --product skiff >/dev/null
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d /tmp/skiff-rss-XXXXXX)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
printf 'root_dir = "%s/root"\nstate_dir = "%s/state"\n[grpc]\nsocket = "%s/state/skiff.sock"\n' "$dir" "$dir" "$dir" > "$dir/skiff.toml"
"${SKIFFD:-$bin/skiffd}" --config "$dir/skiff.toml" 2>"$dir/log" &
pid=$!
for _ in $(seq 1 100); do "$bin/skiff" version --socket "$dir/state/skiff.sock" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 2
echo "skiffd $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?') idle, after one Version call:"
grep -E 'VmRSS|RssAnon|RssFile|RssShmem|Threads' "/proc/$pid/status"
