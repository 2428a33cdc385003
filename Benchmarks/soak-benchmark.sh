#!/usr/bin/env bash
# Probe soak through a release skiffd: PODS pods with one container each, every container probed
# by ExecSync every second (half `echo ok`, half `sleep 5` with a 1 s timeout) for SECONDS;
# prints skiffd's RSS, fds and threads at the start and the end, ExecSync p50/p99, and what the
# probes left in the containers. The image is the busybox fixture from a local docker-registry.
# Usage (root): bash Benchmarks/soak-benchmark.sh [PODS=100] [SECONDS=600]
set -euo pipefail
pods=${1:-100}
seconds=${2:-600}
bench_name=soak
source "$(dirname "$0")/bench-common.sh"
trap bench_cleanup EXIT
start_registry_with_fixture
start_skiffd
echo "runc $(runc --version | head -1 | awk '{print $3}'), conmon $(conmon --version | head -1 | awk '{print $3}'), $(nproc) cores, commit $(git -C "$repo" rev-parse --short HEAD)"
"$bin/skiff-bench" soak --socket "$work/state/skiff.sock" --daemon-pid "$skiffd_pid" \
  --image "127.0.0.1:$registry_port/bench/busybox:v1" --scratch "$work" --pods "$pods" --duration "$seconds"
# skiffd and the registry name $work in their arguments too; conmon, runtimes and pause must not.
echo "conmon/runc/pause processes of the run left on the node: $(pgrep -fc "(conmon|runc|crun|pause).*$work" || true)"
