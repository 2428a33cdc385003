#!/usr/bin/env bash
# Pull benchmark (issue: images). Pushes a ~300 MiB, 5-layer gzip image of incompressible files
# to Debian's docker-registry on 127.0.0.1, then, in the same run:
#   floor: the same 5 layers fetched with curl and unpacked with `tar -xzf`, all 5 at once;
#   skiff: `skiff image pull` through a fresh release skiffd (fetch + verify + store blob + unpack);
# and reports seconds, MiB/s of compressed layer data, and skiffd's peak RSS (VmHWM).
# Usage (root): bash Benchmarks/pull-benchmark.sh [RUNS=3] [MIB=300] [LAYERS=5]
set -euo pipefail
runs=${1:-3}
mib=${2:-300}
layers=${3:-5}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bash scripts/build-release.sh >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/skiff-bench-XXXXXX)
registry_pid=""
skiffd_pid=""
cleanup() {
  [ -n "$skiffd_pid" ] && kill "$skiffd_pid" 2>/dev/null && wait "$skiffd_pid" 2>/dev/null || true
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry.yml" 2>"$work/registry.log" &
registry_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

echo "building and pushing a $mib MiB, $layers-layer image…"
"$bin/skiff-fixture" bench --registry "http://127.0.0.1:$port" --repository bench/big --tag v1 --layers "$layers" --mib "$mib" > "$work/layers.txt"
compressed=0
while read -r digest; do
  size=$(curl -sfI "http://127.0.0.1:$port/v2/bench/big/blobs/$digest" | awk 'tolower($1)=="content-length:"{print $2}' | tr -d '\r')
  compressed=$((compressed + size))
done < "$work/layers.txt"
compressed_mib=$(python3 -c "print(round($compressed/1048576, 1))")
echo "compressed layers: $compressed_mib MiB"

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1:.2f} s  {$compressed/1048576/$1:.0f} MiB/s')"; }

floor_times=()
skiff_times=()
peaks=()
for run in $(seq 1 "$runs"); do
  # floor: curl | tar -xzf, every layer at once
  rm -rf "$work/floor" && mkdir -p "$work/floor"
  start=$(now)
  i=0
  while read -r digest; do
    mkdir -p "$work/floor/$i"
    (curl -sf "http://127.0.0.1:$port/v2/bench/big/blobs/$digest" | tar -xzf - -C "$work/floor/$i") &
    i=$((i + 1))
  done < "$work/layers.txt"
  wait $(jobs -p | grep -v "^$registry_pid$") 2>/dev/null || true
  sync -f "$work/floor" 2>/dev/null || true
  floor=$(python3 -c "print($(now) - $start)")
  floor_times+=("$floor")

  # skiff: fresh root, pull through the daemon
  rm -rf "$work/skiff" && mkdir -p "$work/skiff"
  printf 'root_dir = "%s/skiff/root"\nstate_dir = "%s/skiff/state"\nlog_level = "warning"\n[grpc]\nsocket = "%s/skiff/state/skiff.sock"\n' "$work" "$work" "$work" > "$work/skiff.toml"
  "$bin/skiffd" --config "$work/skiff.toml" 2>>"$work/skiffd.log" &
  skiffd_pid=$!
  for _ in $(seq 1 100); do "$bin/skiff" version --socket "$work/skiff/state/skiff.sock" >/dev/null 2>&1 && break; sleep 0.05; done
  start=$(now)
  "$bin/skiff" image pull --socket "$work/skiff/state/skiff.sock" "127.0.0.1:$port/bench/big:v1" >/dev/null
  skiff=$(python3 -c "print($(now) - $start)")
  skiff_times+=("$skiff")
  peaks+=("$(awk '/VmHWM/{print $2}' /proc/$skiffd_pid/status)")
  kill "$skiffd_pid"; wait "$skiffd_pid" 2>/dev/null || true; skiffd_pid=""
  echo "run $run: floor (curl | tar -xzf) $(rate "$floor")   skiff $(rate "$skiff")   skiffd peak RSS $(( ${peaks[-1]} / 1024 )) MiB"
done

python3 - "${floor_times[*]}" "${skiff_times[*]}" "${peaks[*]}" <<'PY'
import statistics, sys
floor = [float(x) for x in sys.argv[1].split()]
skiff = [float(x) for x in sys.argv[2].split()]
peaks = [int(x) for x in sys.argv[3].split()]
f, s = statistics.median(floor), statistics.median(skiff)
print(f"median: floor {f:.2f} s, skiff {s:.2f} s, ratio {s/f:.2f}x (target <= 1.3x); skiffd peak RSS max {max(peaks)/1024:.1f} MiB (target < 64 MiB)")
PY
