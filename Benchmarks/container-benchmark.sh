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
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
swift build -c release >/dev/null 2>&1
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/skiff-cbench-XXXXXX)
registry_pid=""
skiffd_pid=""
cleanup() {
  [ -n "$skiffd_pid" ] && kill "$skiffd_pid" 2>/dev/null && wait "$skiffd_pid" 2>/dev/null || true
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null || true
  # Whatever a failed run left: floor containers, conmon, mounts.
  for id in $(runc --root "$work/floor/runc-root" list -q 2>/dev/null); do runc --root "$work/floor/runc-root" delete --force "$id" || true; done
  for root in "$work"/state/runtime/*; do
    [ -d "$root" ] || continue
    for id in $(ls "$root"); do runc --root "$root" delete --force "$id" 2>/dev/null || true; done
  done
  pkill -9 -f "conmon.*$work" 2>/dev/null || true
  grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rmdir /sys/fs/cgroup/*/skiff-bench 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s/registry}}\nhttp: {addr: 127.0.0.1:%s}\n' "$work" "$port" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" 2>"$work/registry.log" &
registry_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
"$bin/skiff-fixture" standard --registry "http://127.0.0.1:$port" --repository bench/busybox --tag v1 >/dev/null

printf 'root_dir = "%s/root"\nstate_dir = "%s/state"\nlog_level = "warning"\n[grpc]\nsocket = "%s/state/skiff.sock"\n[network]\ncni_conf_dir = "%s/cni"\n' \
  "$work" "$work" "$work" "$work" > "$work/skiff.toml"
mkdir -p "$work/cni" "$work/floor"
"$bin/skiffd" --config "$work/skiff.toml" 2>"$work/skiffd.log" &
skiffd_pid=$!
for _ in $(seq 1 100); do "$bin/skiff" version --socket "$work/state/skiff.sock" >/dev/null 2>&1 && break; sleep 0.05; done
echo "runc $(runc --version | head -1 | awk '{print $3}'), conmon $(conmon --version | head -1 | awk '{print $3}'), $(nproc) cores"
"$bin/skiff-bench" containers --socket "$work/state/skiff.sock" --daemon-pid "$skiffd_pid" --root-dir "$work/root" \
  --image "127.0.0.1:$port/bench/busybox:v1" --scratch "$work/floor" --count "$count" --exec-count "$execs" --list-count "$list"
