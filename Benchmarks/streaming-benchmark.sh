#!/usr/bin/env bash
# Streaming benchmark through a release skiffd:
#   - EXECS sequential exec round trips (echo hi) over WebSocket and over SPDY/3.1, next to
#     ExecSync of the same command;
#   - MIB MiB from a busybox httpd in a CNI-networked pod, through port-forward (SPDY) and
#     straight to the pod's IP, in the same run (median of ROUNDS each);
#   - with crictl on PATH (or CRICTL=path), the same file through `crictl port-forward` (client-go)
#     and curl, over SPDY and over the WebSocket tunnel.
# The image is the project's busybox fixture, served by Debian's docker-registry on 127.0.0.1;
# the bridge, subnet, ports and directories are the run's own.
# Usage (root): bash Benchmarks/streaming-benchmark.sh [EXECS=200] [MIB=256] [ROUNDS=5]
set -euo pipefail
execs=${1:-200}
mib=${2:-256}
rounds=${3:-5}
bench_name=stbench
source "$(dirname "$0")/bench-common.sh"
forward_pid=""
cleanup() {
  [ -n "$forward_pid" ] && kill "$forward_pid" 2>/dev/null || true
  bench_cleanup
}
trap cleanup EXIT
start_registry_with_fixture
mkdir -p "$work/scratch"
write_bridge_network
start_skiffd
echo "$(nproc) cores; runc $(runc --version | head -1 | awk '{print $3}')"
"$bin/skiff-bench" streaming --socket "$work/state/skiff.sock" --image "127.0.0.1:$registry_port/bench/busybox:v1" \
  --scratch "$work/scratch" --exec-count "$execs" --forward-mi-b "$mib" --rounds "$rounds"

crictl=${CRICTL:-$(command -v crictl || true)}
[ -z "$crictl" ] && [ -x /opt/cri-tools/bin/crictl ] && crictl=/opt/cri-tools/bin/crictl
if [ -n "$crictl" ]; then
  endpoint="unix://$work/state/skiff.sock"
  cr() { "$crictl" --runtime-endpoint "$endpoint" --image-endpoint "$endpoint" "$@"; }
  cat > "$work/pod.json" <<JSON
{"metadata":{"name":"bench-crictl","namespace":"bench","uid":"bench-crictl-$$"},"log_directory":"$work/scratch/logs","linux":{"security_context":{"namespace_options":{"pid":1}}}}
JSON
  cat > "$work/web.json" <<JSON
{"metadata":{"name":"web"},"image":{"image":"127.0.0.1:$registry_port/bench/busybox:v1"},"log_path":"crictl-web.log",
 "command":["/bin/sh","-c","mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=$mib 2>/dev/null && touch /www/ready && exec httpd -f -p 8080 -h /www"]}
JSON
  pod=$(cr runp "$work/pod.json" 2>/dev/null)
  ctr=$(cr create "$pod" "$work/web.json" "$work/pod.json" 2>/dev/null)
  cr start "$ctr" >/dev/null 2>&1
  for _ in $(seq 1 100); do cr exec -s "$ctr" test -f /www/ready >/dev/null 2>&1 && break; sleep 0.1; done
  ip=$(cr inspectp "$pod" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["network"]["ip"])')
  sleep 0.5
  speed() { curl -s -o /dev/null -w '%{speed_download}' "$1" | awk '{printf "%.0f", $1/1048576}'; }
  median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  direct=""; for _ in $(seq 1 "$rounds"); do direct="$direct $(speed "http://$ip:8080/big")"; done
  line="crictl $("$crictl" --version | awk '{print $3}') + curl, $mib MiB, median of $rounds: direct $(echo $direct | median) MiB/s"
  for transport in spdy websocket; do
    local_port=$(free_port)
    cr port-forward --transport "$transport" "$pod" "$local_port:8080" >"$work/forward.log" 2>&1 &
    forward_pid=$!
    for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$local_port/" && break; sleep 0.1; done
    through=""; for _ in $(seq 1 "$rounds"); do through="$through $(speed "http://127.0.0.1:$local_port/big")"; done
    kill "$forward_pid" 2>/dev/null; wait "$forward_pid" 2>/dev/null || true; forward_pid=""
    line="$line, port-forward $transport $(echo $through | median) MiB/s"
  done
  echo "$line"
  cr stopp "$pod" >/dev/null 2>&1 || true
  cr rmp "$pod" >/dev/null 2>&1 || true
fi
