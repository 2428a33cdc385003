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
trap bench_cleanup EXIT
start_registry_with_fixture
write_bridge_network
mkdir -p "$work/logs"
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
