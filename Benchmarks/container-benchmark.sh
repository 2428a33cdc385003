#!/usr/bin/env bash
# Container benchmark through a release skiffd, next to plain runc in the same run:
#   - CreateContainer+StartContainer of COUNT containers in one pod vs overlay mount + runc create + runc start;
#   - ExecSync (echo hi) round trips vs runc exec;
#   - ListContainers/ContainerStatus p99 with LIST containers running;
#   - skiffd's memory with LIST containers and conmon's per container.
# The image is the project's busybox fixture, served by Debian's docker-registry on 127.0.0.1.
# Usage (root): bash Benchmarks/container-benchmark.sh [COUNT=50] [EXECS=500] [LIST=200]
set -euo pipefail
count=${1:-50}
execs=${2:-500}
list=${3:-200}
bench_name=cbench
source "$(dirname "$0")/bench-common.sh"
cleanup() {
  # The floor's containers, then what the shared cleanup undoes.
  for id in $(runc --root "$work/floor/runc-root" list -q 2>/dev/null); do runc --root "$work/floor/runc-root" delete --force "$id" || true; done
  bench_cleanup
  rmdir /sys/fs/cgroup/*/skiff-bench 2>/dev/null || true
}
trap cleanup EXIT
start_registry_with_fixture
mkdir -p "$work/floor"
start_skiffd
echo "runc $(runc --version | head -1 | awk '{print $3}'), conmon $(conmon --version | head -1 | awk '{print $3}'), $(nproc) cores"
"$bin/skiff-bench" containers --socket "$work/state/skiff.sock" --daemon-pid "$skiffd_pid" --root-dir "$work/root" \
  --image "127.0.0.1:$registry_port/bench/busybox:v1" --scratch "$work/floor" --count "$count" --exec-count "$execs" --list-count "$list"
