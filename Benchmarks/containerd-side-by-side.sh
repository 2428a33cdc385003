#!/usr/bin/env bash
# Skiff and Debian's containerd side by side, in one run, on the same machine, the same CNI chain
# (bridge + host-local + portmap + loopback, a bridge name and /24 of the run's own, one conflist
# both daemons read) and the same images (critest's, served offline under their real names by
# scripts/critest/serve-images.sh; both daemons mirror registry.k8s.io, gcr.io, k8s.gcr.io and
# public.ecr.aws to it). One daemon runs at a time: skiffd, then containerd (ORDER to change it;
# a runtime may appear more than once, e.g. ORDER="skiff containerd containerd skiff", and its
# samples are pooled: interleaving evens out load that drifts on a shared machine).
# For each:
#   1. kubelet-style pods: $KUBELET_PODS sequential RunPodSandbox / StopPodSandbox /
#      RemovePodSandbox through crictl, PID namespace per container (namespace_options pid =
#      CONTAINER, as the kubelet sends without shareProcessNamespace), after one untimed pod; and
#      `crictl version` as the client's own cost (process start + connect + one RPC).
#   2. critest -benchmark (its pods carry no namespace options: a shared PID namespace).
# Then the floor, with no daemon: skiff-pinns namespaces + CNI ADD, CNI DEL + namespace release
# (`skiff-bench floor`, $KUBELET_PODS cycles), measured in-process (crictl's cost not included).
# Prints per-op p50/p95 for both with Skiff/containerd, and keeps logs and JSON under
# $CRITEST_DIR/logs/side-by-side-<date>/.
#
# Usage (root): bash Benchmarks/containerd-side-by-side.sh
# Env: SKIFFD         release skiffd (.build/release/skiffd); skiff-pinns and skiff-pause beside it
#      SKIFF_BENCH    skiff-bench for the floor (.build/release/skiff-bench; skiff-pinns beside it)
#      CONTAINERD     containerd binary (/usr/bin/containerd, Debian's package `containerd`);
#                     its containerd-shim-runc-v2 must be on PATH
#      CRITEST_DIR    as scripts/critest/run.sh (.build/critest): registry, logs, default binaries
#      CRI_TOOLS_BIN  directory with critest and crictl ($CRITEST_DIR/bin; docs/critest.md)
#      PODS=200 CONTAINERS=200 PARALLEL=2 IMAGES=20   critest -benchmark's params
#      KUBELET_PODS=30  ORDER="skiff containerd"  KEEP=1 (keep the run's /tmp directory)
#      serve-images.sh's env (PORT=5055, FIXTURE, DYN_BUSYBOX or BUSYBOX_DEB, …)
# Everything started here is stopped and removed on exit, failed or not (side-by-side-common.sh).
# The run's directory, images, CNI config, both daemons' configs and the teardown are in
# Benchmarks/side-by-side-common.sh (shared with pod-memory-benchmark.sh). bench-common.sh is not
# used: it builds every release product and serves only the busybox fixture on a port of its own;
# this script takes prebuilt binaries and critest's images.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
export CRITEST_DIR=${CRITEST_DIR:-$repo/.build/critest}
SKIFFD=$(readlink -f "${SKIFFD:-$repo/.build/release/skiffd}")
SKIFF_BENCH=${SKIFF_BENCH:-$repo/.build/release/skiff-bench}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
CRI_TOOLS_BIN=${CRI_TOOLS_BIN:-$CRITEST_DIR/bin}
CRITEST=$CRI_TOOLS_BIN/critest CRICTL=$CRI_TOOLS_BIN/crictl
PODS=${PODS:-200} CONTAINERS=${CONTAINERS:-200} PARALLEL=${PARALLEL:-2} IMAGES=${IMAGES:-20}
KUBELET_PODS=${KUBELET_PODS:-30} ORDER=${ORDER:-skiff containerd}
PORT=${PORT:-5055}
export PORT PATH=$CRI_TOOLS_BIN:$PATH

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
for f in "$SKIFFD" "$(dirname "$SKIFFD")/skiff-pinns" "$(dirname "$SKIFFD")/skiff-pause" "$SKIFF_BENCH" \
  "$CONTAINERD" "$CRITEST" "$CRICTL"; do
  [ -x "$f" ] || { echo "missing $f (see the header of $0)" >&2; exit 2; }
done
command -v containerd-shim-runc-v2 >/dev/null || { echo "no containerd-shim-runc-v2 on PATH" >&2; exit 2; }

side_name=side-by-side
source "$here/side-by-side-common.sh"

cat > "$work/bench.yaml" <<EOF
podsNumber: $PODS
podsNumberParallel: $PARALLEL
containersNumber: $CONTAINERS
containersNumberParallel: $PARALLEL
imagesNumber: $IMAGES
imagesNumberParallel: $PARALLEL
EOF

# Kubelet-style pods, one after the other: "<runtime> <op> <ms>" lines in kubelet.tsv.
kubelet_series() { # $1 = runtime
  local i id t0 t1 t2 t3 cfg=$work/pod.json
  pod_json() { printf '{"metadata":{"name":"kl-%s","namespace":"side-by-side","uid":"kl-%s-%s","attempt":0},"log_directory":"%s/podlogs/%s","linux":{"security_context":{"namespace_options":{"pid":1}}}}\n' \
    "$1" "$1" "$RANDOM$RANDOM" "$work" "$1" > "$cfg"; }
  for i in warmup $(seq 1 "$KUBELET_PODS"); do
    pod_json "$i"
    t0=$EPOCHREALTIME; id=$(crictl runp "$cfg") || { echo "$1: runp failed" >&2; return 1; }
    t1=$EPOCHREALTIME; crictl stopp "$id" >/dev/null || return 1
    t2=$EPOCHREALTIME; crictl rmp "$id" >/dev/null || return 1
    t3=$EPOCHREALTIME
    [ "$i" = warmup ] && continue
    echo "$1 RunPodSandbox $t0 $t1" >> "$work/kubelet.tsv"
    echo "$1 StopPodSandbox $t1 $t2" >> "$work/kubelet.tsv"
    echo "$1 RemovePodSandbox $t2 $t3" >> "$work/kubelet.tsv"
  done
  for i in $(seq 1 "$KUBELET_PODS"); do
    t0=$EPOCHREALTIME; crictl version >/dev/null; t1=$EPOCHREALTIME
    echo "$1 crictl-version $t0 $t1" >> "$work/kubelet.tsv"
  done
}

run_one() { # $1 = skiff|containerd, $2 = the run's number (its critest output directory)
  echo "=== $1 (run $2)" >&2
  start_daemon "$1"
  echo "$1 idle-rss-kib $(rss_kib "$daemon_pid")" >> "$work/rss.txt"
  crictl version | sed "s/^/  /" >&2
  crictl pull "$busybox" >/dev/null && crictl pull "$pause" >/dev/null || { echo "$1: pulling failed" >&2; exit 1; }
  echo "  kubelet-style pods ($KUBELET_PODS)…" >&2
  kubelet_series "$1" || exit 1
  echo "  critest -benchmark ($PODS pods, $CONTAINERS containers, $IMAGES images, $PARALLEL parallel)…" >&2
  local out=$work/out/$1-$2
  mkdir -p "$out" "$work/cwd-$1"
  local start=$SECONDS
  (cd "$work/cwd-$1" && "$CRITEST" -config "$work/crictl.yaml" -runtime-endpoint "unix://$socket" \
    -image-endpoint "unix://$socket" -ginkgo.no-color -ginkgo.timeout 2h -benchmark \
    -benchmarking-params-file "$work/bench.yaml" -benchmarking-output-dir "$out") \
    >"$work/critest-$1-$2.log" 2>&1
  local rc=$?
  echo "  critest exit $rc after $((SECONDS - start)) s: $(grep -oE 'Ran [0-9]+ of [0-9]+ Specs.*|(SUCCESS|FAIL)! .*' "$work/critest-$1-$2.log" | tr '\n' ' ')" >&2
  echo "$1 critest-exit $rc" >> "$work/rss.txt"
  echo "$1 after-bench-rss-kib $(rss_kib "$daemon_pid")" >> "$work/rss.txt"
  stop_daemon
}

echo "side by side: skiffd $SKIFFD, $("$CONTAINERD" --version), bridge $bridge $subnet, logs $logs" >&2
n=0
for r in $ORDER; do n=$((n + 1)); run_one "$r" "$n"; done
echo "=== floor (skiff-bench floor, $KUBELET_PODS cycles)" >&2
mkdir -p "$work/floor"
"$SKIFF_BENCH" floor --cni-conf-dir "$work/cni" --scratch "$work/floor" --count "$KUBELET_PODS" > "$work/floor.txt" \
  || { echo "floor failed" >&2; exit 1; }

python3 - "$work" <<'PY' | tee "$logs/summary.md"
import json, os, statistics, sys
work = sys.argv[1]
runtimes = ("skiff", "containerd")
def p50(v): return statistics.median(v)
def p95(v): s = sorted(v); return s[int(0.95 * (len(s) - 1))]
def fmt(v): return "%.1f" % v
def row(name, a, b):
    if not a or not b:
        print("| %s | %s | %s | – |" % (name, "%s / %s" % (fmt(p50(a)), fmt(p95(a))) if a else "–",
                                       "%s / %s" % (fmt(p50(b)), fmt(p95(b))) if b else "–"))
        return
    print("| %s | %s / %s | %s / %s | %.2f |" % (name, fmt(p50(a)), fmt(p95(a)), fmt(p50(b)), fmt(p95(b)), p50(a) / p50(b)))

def critest(runtime): # every run of `runtime` (out/<runtime>-<n>/), pooled
    ops = {}
    for run in sorted(r for r in os.listdir(os.path.join(work, "out")) if r.rsplit("-", 1)[0] == runtime):
        for f in sorted(os.listdir(os.path.join(work, "out", run))):
            if not f.endswith("_benchmark_data.json"): continue
            d = json.load(open(os.path.join(work, "out", run, f)))
            kind = f.replace("_benchmark_data.json", "")
            columns = list(zip(*[p["operationsDurationsNs"] for p in d["datapoints"]])) if d["datapoints"] else []
            for name, c in zip(d["operationsNames"], columns): ops.setdefault(name, []).extend(x / 1e6 for x in c)
            if kind in ("pod", "container") and d["datapoints"]:
                ops.setdefault("%s lifecycle (sum)" % kind, []).extend(
                    sum(p["operationsDurationsNs"]) / 1e6 for p in d["datapoints"])
    return ops
print("### critest -benchmark (ms, p50 / p95)\n")
print("| operation | Skiff | containerd | Skiff/containerd (p50) |\n|---|---|---|---|")
results = {r: critest(r) for r in runtimes}
names = []
for r in runtimes:
    names += [n for n in results[r] if n not in names]
for n in names: row(n, results["skiff"].get(n, []), results["containerd"].get(n, []))

series = {}
for line in open(os.path.join(work, "kubelet.tsv")):
    r, op, t0, t1 = line.split()
    series.setdefault((r, op), []).append((float(t1) - float(t0)) * 1000)
print("\n### kubelet-style pods, PID namespace per container, sequential via crictl (ms, p50 / p95)\n")
print("| operation | Skiff | containerd | Skiff/containerd (p50) |\n|---|---|---|---|")
for op in ("RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "crictl-version"):
    row(op if op != "crictl-version" else "`crictl version` (the client's own cost)",
        series.get(("skiff", op), []), series.get(("containerd", op), []))
print("\n### floor, no daemon, in-process (skiff-bench floor)\n")
for line in open(os.path.join(work, "floor.txt")): print("    " + line.rstrip())
stop = series.get(("skiff", "StopPodSandbox"), [])
floor = [l for l in open(os.path.join(work, "floor.txt")) if "DEL" in l]
if stop and floor:
    f = float(floor[0].split("p50")[1].split()[0]); c = p50(series[("skiff", "crictl-version")])
    print("\nSkiff StopPodSandbox p50 %.1f ms (crictl) − crictl version p50 %.1f ms = %.1f ms vs floor DEL p50 %.1f ms: %.2fx"
          % (p50(stop), c, p50(stop) - c, f, (p50(stop) - c) / f))
print("\n### daemon RSS (KiB)\n")
for line in open(os.path.join(work, "rss.txt")): print("    " + line.rstrip())
PY
echo "logs: $logs" >&2
