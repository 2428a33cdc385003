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
# Everything started here is stopped and removed on exit, failed or not: both daemons, shims,
# conmons, pods, mounts, network namespaces, the bridge, CNI iptables chains that were not there
# before, containerd's shim sockets, the registry (if this run started it) and the directory.
# (Benchmarks/bench-common.sh is not sourced: it builds every release product and serves only the
# busybox fixture on a port of its own; this script takes prebuilt binaries and critest's images.)
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

logs=$CRITEST_DIR/logs/side-by-side-$(date +%Y%m%d-%H%M%S)
mkdir -p "$logs"
work=$(mktemp -d /tmp/side-XXXX)
chmod 0711 "$work" # pods with user namespaces reach root_dir as a mapped uid (docs/critest.md)
bridge=sbs$(basename "$work" | tr -dc 'a-zA-Z0-9' | tail -c 6)
daemon_pid=""
registry_started=0

# What was there before, so that only this run's leftovers are removed.
cni_chains() { iptables-save 2>/dev/null | awk '/^\*/ { t = substr($1, 2) } /^:CNI-/ { print t, substr($1, 2) }' | sort; }
cni_chains > "$work/chains.before"
ip netns list | awk '{print $1}' | sort > "$work/netns.before"
shim_dir=/run/containerd/s # containerd 1.6 puts every shim's socket here, whatever its state dir
had_run_containerd=0; [ -d /run/containerd ] && had_run_containerd=1
ls "$shim_dir" 2>/dev/null | sort > "$work/shims.before"

# --- teardown -------------------------------------------------------------------------------
stop_daemon() { # removes every pod through the daemon, then stops it
  [ -n "$daemon_pid" ] || return 0
  if kill -0 "$daemon_pid" 2>/dev/null; then
    timeout 300 "$CRICTL" --config "$work/crictl.yaml" rmp -fa >>"$work/cleanup.log" 2>&1
    kill -TERM "$daemon_pid"
    for _ in $(seq 1 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$daemon_pid" 2>/dev/null && kill -KILL "$daemon_pid"
  fi
  wait "$daemon_pid" 2>/dev/null
  daemon_pid=""
}

cleanup() {
  set +e
  stop_daemon
  # Containers a crash may leave: each runc root of either daemon.
  for root in "$work"/skiff/s/runtime/* "$work"/ctd/runc/*; do
    [ -d "$root" ] || continue
    case "$(basename "$root")" in crun) rt=/usr/bin/crun ;; *) rt=/usr/sbin/runc ;; esac
    for id in $(ls "$root"); do "$rt" --root "$root" delete --force "$id" >/dev/null 2>&1; done
  done
  # Shims and conmons carry the run's directory in their command lines.
  for pid in $(grep -l -F "$work" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [ "$pid" != $$ ] && kill -KILL "$pid" 2>/dev/null
  done
  awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
  comm -13 "$work/netns.before" <(ip netns list | awk '{print $1}' | sort) | xargs -r -n1 ip netns del 2>/dev/null
  ip link del "$bridge" >/dev/null 2>&1
  # CNI chains this run created: drop the rules that jump to them, then flush and delete them.
  comm -13 "$work/chains.before" <(cni_chains) > "$work/chains.new"
  while read -r table chain; do
    iptables -t "$table" -S | grep -E -- "-j $chain( |\$)" | sed 's/^-A /-D /' | while read -r rule; do
      eval "iptables -t $table $rule" 2>/dev/null
    done
  done < "$work/chains.new"
  while read -r table chain; do iptables -t "$table" -F "$chain" 2>/dev/null; done < "$work/chains.new"
  while read -r table chain; do iptables -t "$table" -X "$chain" 2>/dev/null; done < "$work/chains.new"
  comm -13 "$work/shims.before" <(ls "$shim_dir" 2>/dev/null | sort) | while read -r s; do rm -f "$shim_dir/$s"; done
  [ $had_run_containerd = 0 ] && { rmdir "$shim_dir" /run/containerd 2>/dev/null; }
  [ $registry_started = 1 ] && bash "$repo/scripts/critest/serve-images.sh" stop 2>/dev/null
  cp -r "$work"/out "$work"/*.log "$work"/*.toml "$work"/cni "$logs/" 2>/dev/null
  [ "${KEEP:-0}" = 1 ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- images, network ------------------------------------------------------------------------
curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null || registry_started=1
mirrors=$(bash "$repo/scripts/critest/serve-images.sh" start 2>"$work/registry-push.log") \
  || { echo "serving images failed:" >&2; cat "$work/registry-push.log" >&2; exit 1; }
mirrored=(registry.k8s.io k8s.gcr.io gcr.io public.ecr.aws)
busybox=registry.k8s.io/e2e-test-images/busybox:1.29-2 # critest's default container image
# containerd's sandbox_image. serve-images.sh's pause:3.9 stand-in is a busybox whose Cmd is
# /bin/sh, which exits at once: a real pause is needed, and skiff-pause (static C, like the
# kubelet's pause) is one. Pushed under a name of its own so the critest stand-in stays as it is.
pause=registry.k8s.io/skiff-bench/pause:1
"${FIXTURE:-$repo/.build/debug/skiff-fixture}" standard --registry "http://127.0.0.1:$PORT" --repository skiff-bench/pause \
  --tag 1 --host-file "$(dirname "$SKIFFD")/skiff-pause:/pause:0755" --entrypoint /pause >/dev/null \
  || { echo "pushing the pause image failed" >&2; exit 1; }

# A /24 no route on this host uses yet.
for _ in $(seq 1 50); do
  subnet=10.254.$((RANDOM % 250 + 1)).0/24
  ip route | grep -q "^${subnet%.0/24}\." || break
done
mkdir -p "$work/cni" "$work/out"
cat > "$work/cni/10-side-by-side.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "side-$bridge",
  "plugins": [
    { "type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$work/ipam",
                "routes": [{ "dst": "0.0.0.0/0" }], "ranges": [[{ "subnet": "$subnet" }]] } },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" }
  ]
}
EOF
cat > "$work/bench.yaml" <<EOF
podsNumber: $PODS
podsNumberParallel: $PARALLEL
containersNumber: $CONTAINERS
containersNumberParallel: $PARALLEL
imagesNumber: $IMAGES
imagesNumberParallel: $PARALLEL
EOF

# --- the two daemons ------------------------------------------------------------------------
skiff_config() {
  mkdir -p "$work/skiff"
  cat > "$work/skiff.toml" <<EOF
root_dir = "$work/skiff/root"
state_dir = "$work/skiff/s"
log_level = "warning"
[grpc]
socket = "$work/skiff/s/skiff.sock"
[network]
cni_conf_dir = "$work/cni"
cni_bin_dirs = ["/usr/lib/cni"]
[streaming]
address = "127.0.0.1"
port = 0
$mirrors
EOF
  socket=$work/skiff/s/skiff.sock
  daemon_cmd=("$SKIFFD" --config "$work/skiff.toml")
}

containerd_config() {
  mkdir -p "$work/ctd"
  {
    cat <<EOF
version = 2
root = "$work/ctd/root"
state = "$work/ctd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$work/ctd/containerd.sock"
[ttrpc]
  address = "$work/ctd/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "warn"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/ctd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  # This host refuses to lower oom_score_adj (runc init: "failed to update
  # /proc/self/oom_score_adj: Permission denied" for the sandbox's -998): keep it at or above
  # containerd's own, as skiffd keeps it at or above its own (RuntimeCore/OOMScoreFloor.swift).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$work/cni"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "$work/ctd/runc"
        SystemdCgroup = false
EOF
    for r in "${mirrored[@]}"; do
      printf '  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."%s"]\n    endpoint = ["http://127.0.0.1:%s"]\n' "$r" "$PORT"
    done
  } > "$work/containerd.toml"
  socket=$work/ctd/containerd.sock
  daemon_cmd=("$CONTAINERD" --config "$work/containerd.toml")
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null; }

start_daemon() { # $1 = skiff|containerd
  case "$1" in skiff) skiff_config ;; containerd) containerd_config ;; *) echo "ORDER: skiff or containerd" >&2; exit 2 ;; esac
  printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n' "$socket" "$socket" > "$work/crictl.yaml"
  setsid "${daemon_cmd[@]}" >>"$work/$1.log" 2>&1 </dev/null &
  daemon_pid=$!
  for _ in $(seq 1 300); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    [ -S "$socket" ] && crictl -t 2s version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 did not come up:" >&2; tail -30 "$work/$1.log" >&2; exit 1
}

crictl() { "$CRICTL" --config "$work/crictl.yaml" "$@"; }

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
