#!/usr/bin/env bash
# Node-side memory of running pods, Skiff and Debian's containerd in one run (issue 15: at most
# 1 MiB PSS per running container, at most 0.25x containerd's per-pod PSS). One daemon at a time,
# on the same CNI chain and images (side-by-side-common.sh, shared with containerd-side-by-side.sh).
# For each runtime:
#   1. the daemon idle (RSS and PSS from /proc/PID/smaps_rollup), then after pulling the images
#      and one pod created and removed ("ready": what the pods are measured against);
#   2. for each PID mode: $PODS pods of $CONTAINERS_PER_POD busybox `sleep` containers each,
#      started one after the other through crictl; $SETTLE s later every process of the run is
#      measured: the daemon, the monitors (conmon for Skiff, containerd-shim-runc-v2 for
#      containerd), the pause processes and the workloads (`sleep`, the same for both);
#      PID mode "pod" is critest's pod (no namespace options: one PID namespace, a pause process
#      as its init), "container" the kubelet's default (namespace_options pid = CONTAINER);
#   3. `crictl rmp -fa`, the daemon measured again, and a check that nothing of the pods is left:
#      processes, mounts below the run's directory, network namespaces.
# After both daemons are stopped the same check runs again. Prints per-pod and per-container PSS
# and the Skiff/containerd ratios, and one monitor's and one pause's memory by mapping.
#
# Usage (root): bash Benchmarks/pod-memory-benchmark.sh
# Env: SKIFFD         release skiffd (.build/release/skiffd); skiff-pinns and skiff-pause beside it
#      CONTAINERD     containerd binary (/usr/bin/containerd); containerd-shim-runc-v2 on PATH
#      CRITEST_DIR    as scripts/critest/run.sh (.build/critest): registry, logs, crictl
#      CRI_TOOLS_BIN  directory with crictl ($CRITEST_DIR/bin)
#      PODS=50 CONTAINERS_PER_POD=2 PID_MODES="pod container" ORDER="skiff containerd" SETTLE=5
#      KEEP=1 (keep the run's /tmp directory); serve-images.sh's env (PORT=5055, FIXTURE, …)
# Exit status 1 when something was left behind (the EXIT trap still removes it).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
export CRITEST_DIR=${CRITEST_DIR:-$repo/.build/critest}
SKIFFD=$(readlink -f "${SKIFFD:-$repo/.build/release/skiffd}")
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
CRI_TOOLS_BIN=${CRI_TOOLS_BIN:-$CRITEST_DIR/bin}
CRICTL=$CRI_TOOLS_BIN/crictl
PODS=${PODS:-50} CONTAINERS_PER_POD=${CONTAINERS_PER_POD:-2} PID_MODES=${PID_MODES:-pod container}
ORDER=${ORDER:-skiff containerd} SETTLE=${SETTLE:-5}
PORT=${PORT:-5055}
export PORT PATH=$CRI_TOOLS_BIN:$PATH

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
for f in "$SKIFFD" "$(dirname "$SKIFFD")/skiff-pinns" "$(dirname "$SKIFFD")/skiff-pause" "$CONTAINERD" "$CRICTL"; do
  [ -x "$f" ] || { echo "missing $f (see the header of $0)" >&2; exit 2; }
done
command -v containerd-shim-runc-v2 >/dev/null || { echo "no containerd-shim-runc-v2 on PATH" >&2; exit 2; }

side_name=pod-memory
source "$here/side-by-side-common.sh"
left_behind=0

# One JSON line per measurement into $work/out/memory.jsonl: the daemon and every process below
# it or naming the run's directory (conmons, shims and their containers), by kind.
measure() { # $1 = runtime, $2 = phase, $3 = PID mode
  MEASURE_WORK=$work python3 "$here/pod-memory-measure.py" "$daemon_pid" "$$" "$1" "$2" "$3" >> "$work/out/memory.jsonl"
}

# Pods, mounts and network namespaces still there; prints them and returns 1 if any.
check_left() { # $1 = where (for the message)
  local procs mounts netns
  procs=$(MEASURE_WORK=$work python3 "$here/pod-memory-measure.py" --list "${daemon_pid:-0}" "$$")
  mounts=$(awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo)
  netns=$(comm -13 "$work/netns.before" <(ip netns list | awk '{print $1}' | sort))
  if [ -z "$procs$mounts$netns" ]; then echo "  left $1: nothing" >&2; return 0; fi
  echo "  LEFT $1:" >&2
  printf '%s\n' "$procs" "$mounts" "$netns" | sed '/^$/d; s/^/    /' >&2
  left_behind=1
  return 1
}

pod_json() { # $1 = name, $2 = PID mode
  local ns=""
  [ "$2" = container ] && ns=',"linux":{"security_context":{"namespace_options":{"pid":1}}}'
  printf '{"metadata":{"name":"%s","namespace":"pod-memory","uid":"%s-%s","attempt":0},"log_directory":"%s/podlogs/%s"%s}\n' \
    "$1" "$1" "$RANDOM$RANDOM" "$work" "$1" "$ns"
}

container_json() { # $1 = name
  printf '{"metadata":{"name":"%s"},"image":{"image":"%s"},"command":["sleep","86400"],"log_path":"%s.log"}\n' \
    "$1" "$busybox" "$1"
}

run_pods() { # $1 = PID mode, $2 = how many
  local i c pod id
  for i in $(seq 1 "$2"); do
    pod_json "mem-$1-$i" "$1" > "$work/pod.json"
    pod=$(crictl runp "$work/pod.json" 2>>"$work/crictl.log") || { echo "runp failed: $(tail -3 "$work/crictl.log")" >&2; return 1; }
    for c in $(seq 1 "$CONTAINERS_PER_POD"); do
      container_json "c$c" > "$work/ctr.json"
      id=$(crictl create --no-pull "$pod" "$work/ctr.json" "$work/pod.json" 2>>"$work/crictl.log") || { echo "create failed: $(tail -3 "$work/crictl.log")" >&2; return 1; }
      crictl start "$id" >/dev/null 2>>"$work/crictl.log" || { echo "start failed: $(tail -3 "$work/crictl.log")" >&2; return 1; }
    done
  done
}

run_one() { # $1 = skiff|containerd
  echo "=== $1" >&2
  start_daemon "$1"
  sleep "$SETTLE"
  measure "$1" idle -
  crictl pull "$busybox" >/dev/null && crictl pull "$pause" >/dev/null || { echo "$1: pulling failed" >&2; exit 1; }
  for mode in $PID_MODES; do run_pods "$mode" 1 || exit 1; done
  crictl rmp -fa >/dev/null || exit 1
  sleep "$SETTLE"
  measure "$1" ready -
  for mode in $PID_MODES; do
    echo "  $PODS pods x $CONTAINERS_PER_POD containers, PID mode $mode…" >&2
    local t0=$SECONDS
    run_pods "$mode" "$PODS" || exit 1
    echo "  started in $((SECONDS - t0)) s" >&2
    sleep "$SETTLE"
    measure "$1" running "$mode"
    t0=$SECONDS
    crictl rmp -fa >/dev/null || { echo "$1: rmp -fa failed" >&2; exit 1; }
    echo "  removed in $((SECONDS - t0)) s" >&2
    sleep "$SETTLE"
    measure "$1" removed "$mode"
    check_left "after removing the pods ($1, PID mode $mode)"
  done
  stop_daemon
  check_left "after stopping $1"
}

echo "pod memory: skiffd $SKIFFD, $("$CONTAINERD" --version), $PODS pods x $CONTAINERS_PER_POD containers, logs $logs" >&2
for r in $ORDER; do run_one "$r"; done
python3 "$here/pod-memory-report.py" "$work/out/memory.jsonl" "$CONTAINERS_PER_POD" | tee "$logs/summary.md"
exit $left_behind
