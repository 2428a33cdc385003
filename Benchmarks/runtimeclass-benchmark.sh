#!/usr/bin/env bash
# Pod start per RuntimeClass handler, in one run through one release skiffd: COUNT pods each of
# runc, crun and runsc (gVisor), one after the other — RunPodSandbox + CreateContainer +
# StartContainer of one sleeping busybox container, on a CNI bridge of the run's own — then
# StopPodSandbox + RemovePodSandbox. runsc runs with --network=host (runsc 20221219 cannot start
# its own network stack on 6.x kernels: docs/runtimeclass.md).
# Usage (root): bash Benchmarks/runtimeclass-benchmark.sh [COUNT=20] [HANDLERS=runc,crun,runsc]
set -euo pipefail
count=${1:-20}
handlers=${2:-runc,crun,runsc}
bench_name=rcbench
source "$(dirname "$0")/bench-common.sh"
bridge="skr$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cleanup() {
  bench_cleanup
  ip link del "$bridge" 2>/dev/null || true
}
trap cleanup EXIT
start_registry_with_fixture
mkdir -p "$work/cni" "$work/logs"
cat > "$work/cni/10-bench.conflist" <<JSON
{"cniVersion":"1.0.0","name":"$bridge","plugins":[
  {"type":"bridge","bridge":"$bridge","isGateway":true,"ipMasq":false,
   "ipam":{"type":"host-local","ranges":[[{"subnet":"10.252.$((RANDOM % 250 + 1)).0/24"}]],"dataDir":"$work/ipam"}},
  {"type":"portmap","capabilities":{"portMappings":true}},
  {"type":"loopback"}]}
JSON
start_skiffd '[runtime.handlers.runc]
runtime_path = "runc"
[runtime.handlers.crun]
runtime_path = "crun"
[runtime.handlers.runsc]
runtime_path = "runsc"
runtime_args = ["--network=host"]'
echo "runc $(runc --version | head -1 | awk '{print $3}'), crun $(crun --version | head -1 | awk '{print $3}'), $(runsc --version | head -1), $(nproc) cores"
"$bin/skiff-bench" handlers --socket "$work/state/skiff.sock" --image "127.0.0.1:$registry_port/bench/busybox:v1" \
  --log-directory "$work/logs" --handlers "$handlers" --count "$count"
