#!/usr/bin/env bash
# Runs critest against a private skiffd, with critest's images served by the local registry of
# serve-images.sh (started here when it is not running). docs/critest.md says how to build critest.
#
#   run.sh SKIFFD [bench|full] [extra critest flags…]   e.g. full -ginkgo.focus='HostIpc|HostPID'
#
# skiffd needs skiff-pinns, skiff-pause and skiff-sandbox-shim beside it (as in .build/release).
#
#   bench  critest -benchmark, $PODS pods / $CONTAINERS containers, $PARALLEL at a time
#          (podsNumberParallel / containersNumberParallel in the -benchmarking-params-file)
#   full   the whole validation suite, serially (critest's default -parallel 1; NODES=N for more)
#
# Env: CRITEST_DIR         work directory (default <repo>/.build/critest): bin/critest, bin/crictl,
#                         bin/ginkgo, the registry, logs/<mode>-<date>/
#      CRITEST, CRICTL     the binaries ($CRITEST_DIR/bin/critest, $CRITEST_DIR/bin/crictl)
#      serve-images.sh's env (PORT, FIXTURE, DYN_BUSYBOX, …) is passed on
#      PODS=200 CONTAINERS=200 PARALLEL=2 IMAGES=0 (image benchmark, off by default)
#      GRPC_VERBOSE=1      critest with GRPC_GO_LOG_VERBOSITY_LEVEL=99 GRPC_GO_LOG_SEVERITY_LEVEL=info
#      LOG_LEVEL=info      skiffd's log_level
#      CNI=bridge|none     a private bridge network (default) or an empty CNI conf dir
#      TIMEOUT=3h          ginkgo suite timeout
#      KEEP=1              keep /tmp/critest-skiff-XXXX (default: removed)
#      EXTRA_TOML          appended to skiffd's config, e.g. a runsc handler for
#                          `-runtime-handler runsc` (docs/runtimeclass.md)
#      SKIFFD_ENV          "NAME=value …" given to skiffd (e.g. GLIBC_TUNABLES for an experiment)
#      ROUNDS=1            run critest that many times against the same skiffd (memory after each:
#                          a cache filled once stops growing, memory kept per pod grows each round)
#      INSPECT="cmd …"     run (via sh -c) after start and 5 s after each round, with SKIFFD_PID and
#                          PHASE (start, round1, …) set, e.g. a gdb or smaps script; output into the summary
# The summary ends with skiffd's VmRSS/RssAnon/RssFile after start and 5 s after critest.
# Logs go to $CRITEST_DIR/logs/<mode>-<date>/ (critest.log, skiffd.log, skiff.toml, summary).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/bridge-conflist.sh"
export CRITEST_DIR=${CRITEST_DIR:-$repo/.build/critest}
export PATH=$CRITEST_DIR/bin:$PATH   # critest -parallel N>1 runs `ginkgo`
SKIFFD=${1:?usage: $0 SKIFFD [bench|full] [critest flags…]}
MODE=${2:-bench}
shift; [ $# -gt 0 ] && shift
SKIFFD=$(readlink -f "$SKIFFD")
[ -x "$SKIFFD" ] || { echo "no skiffd at $SKIFFD" >&2; exit 2; }
CRITEST=${CRITEST:-$CRITEST_DIR/bin/critest}
CRICTL=${CRICTL:-$CRITEST_DIR/bin/crictl}
for b in "$CRITEST" "$CRICTL"; do [ -x "$b" ] || { echo "no $b (docs/critest.md: building cri-tools)" >&2; exit 2; }; done
PODS=${PODS:-200} CONTAINERS=${CONTAINERS:-200} PARALLEL=${PARALLEL:-2} IMAGES=${IMAGES:-0}
LOG_LEVEL=${LOG_LEVEL:-info} CNI=${CNI:-bridge} TIMEOUT=${TIMEOUT:-3h}

logs=$CRITEST_DIR/logs/$MODE-$(date +%Y%m%d-%H%M%S)
mkdir -p "$logs"
work=$(mktemp -d /tmp/critest-skiff-XXXX)
# mktemp makes it 0700: a pod with a user namespace runs as a mapped uid that must still reach
# root_dir below it (runc bind-mounts the rootfs as that uid), as it reaches /var/lib/skiff.
chmod 0711 "$work"
sock=$work/s/skiff.sock
ep=unix://$sock
bridge=ct$(basename "$work" | tr -dc 'a-zA-Z0-9' | tail -c 6)   # ≤15 chars, per run
skiffd_pid=""

# --- images ---------------------------------------------------------------------------------
mirrors=$(bash "$here/serve-images.sh" start 2>"$logs/registry-push.log") \
  || { echo "serving images failed:" >&2; cat "$logs/registry-push.log" >&2; exit 1; }

# --- config (as Tests/IntegrationTests/Support/DaemonHarness.swift writes it) ---------------
mkdir -p "$work/cni" "$work/out"
cat > "$work/skiff.toml" <<EOF
root_dir = "$work/root"
state_dir = "$work/s"   # short: attach sockets live at <state_dir>/attach/<64 hex>/attach (≤107 bytes)
log_level = "$LOG_LEVEL"
[grpc]
socket = "$sock"
shutdown_timeout = "5s"
[network]
cni_conf_dir = "$work/cni"
cni_bin_dirs = ["/usr/lib/cni"]
[streaming]
address = "127.0.0.1"
port = 0
$mirrors
${EXTRA_TOML:-}
EOF
if [ "$CNI" = bridge ]; then
  write_bridge_conflist "$work/cni/10-critest.conflist" "critest-$bridge" "$bridge" 10.89.0.0/16 "$work/ipam"
fi
cat > "$work/bench.yaml" <<EOF
podsNumber: $PODS
podsNumberParallel: $PARALLEL
containersNumber: $CONTAINERS
containersNumberParallel: $PARALLEL
imagesNumber: $IMAGES
imagesNumberParallel: $PARALLEL
EOF
printf 'runtime-endpoint: %s\nimage-endpoint: %s\ntimeout: 60\n' "$ep" "$ep" > "$work/crictl.yaml"
cp "$work/skiff.toml" "$work/bench.yaml" "$logs/"
crictl() { "$CRICTL" --config "$work/crictl.yaml" "$@"; }

cleanup() {
  set +e
  if [ -n "$skiffd_pid" ] && kill -0 "$skiffd_pid" 2>/dev/null; then
    echo "removing leftover pods…" >&2
    timeout 300 "$CRICTL" --config "$work/crictl.yaml" rmp -fa >>"$logs/cleanup.log" 2>&1
    timeout 120 "$CRICTL" --config "$work/crictl.yaml" rm -fa >>"$logs/cleanup.log" 2>&1
    kill -TERM "$skiffd_pid"
    for _ in $(seq 1 150); do kill -0 "$skiffd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$skiffd_pid" 2>/dev/null && kill -KILL "$skiffd_pid"
    wait "$skiffd_pid" 2>/dev/null
  fi
  # What a crash may leave (as DaemonHarness.cleanUp does): containers, conmons, mounts.
  for root in "$work"/s/runtime/*; do
    [ -d "$root" ] || continue
    case "$(basename "$root")" in
      *.holders) continue ;;
      runsc) for id in $(runsc --root "$root" list -q 2>/dev/null); do runsc --root "$root" delete --force "$id" >/dev/null 2>&1; done; continue ;;
      crun) rt=/usr/bin/crun ;;
      *) rt=/usr/sbin/runc ;;
    esac
    for id in $(ls "$root"); do "$rt" --root "$root" delete --force "$id" >/dev/null 2>&1; done
  done
  for pid in $(grep -l -F "$work" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [ "$pid" != $$ ] && kill -KILL "$pid" 2>/dev/null
  done
  awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
  ip link del "$bridge" >/dev/null 2>&1
  bash "$repo/scripts/remove-portmap-chains.sh"
  cp "$work/skiffd.log" "$logs/" 2>/dev/null
  [ "${KEEP:-0}" = 1 ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- skiffd ---------------------------------------------------------------------------------
# SKIFFD_ENV="NAME=value …": environment for skiffd (e.g. glibc tunables, for an experiment).
env ${SKIFFD_ENV:-} setsid "$SKIFFD" --config "$work/skiff.toml" >"$work/skiffd.log" 2>&1 </dev/null &
skiffd_pid=$!
up=0
for _ in $(seq 1 300); do
  kill -0 "$skiffd_pid" 2>/dev/null || break
  if [ -S "$sock" ] && crictl -t 2s version >/dev/null 2>&1; then up=1; break; fi
  sleep 0.1
done
[ $up = 1 ] || { echo "skiffd did not come up:" >&2; tail -30 "$work/skiffd.log" >&2; exit 1; }
crictl version | tee "$logs/summary.txt"
rss() { awk '/^(VmRSS|RssAnon|RssFile)/ {printf "%s %s kB ", $1, $2}' "/proc/$skiffd_pid/status" 2>/dev/null; }
rss_start=$(rss)
inspect() { # $1 = phase
  [ -n "${INSPECT:-}" ] || return 0
  SKIFFD_PID=$skiffd_pid PHASE=$1 sh -c "$INSPECT" 2>&1 | sed "s/^/[$1] /" | tee -a "$logs/inspect.txt"
}
inspect start

# --- critest --------------------------------------------------------------------------------
args=(-config "$work/crictl.yaml" -runtime-endpoint "$ep" -image-endpoint "$ep" -ginkgo.timeout "$TIMEOUT" -ginkgo.no-color)
case "$MODE" in
  bench) args+=(-benchmark -benchmarking-params-file "$work/bench.yaml" -benchmarking-output-dir "$logs/bench-out") ;;
  # -parallel 1 is the default; passing it explicitly makes ginkgo refuse to run ("Use of go test
  # -parallel"). NODES>1 runs ginkgo (built into $CRITEST_DIR/bin) with that many nodes.
  full)  args+=(-report-dir "$logs"); [ "${NODES:-1}" -gt 1 ] && args+=(-parallel "$NODES") ;;
  *) echo "mode must be bench or full" >&2; exit 2 ;;
esac
mkdir -p "$logs/bench-out"
env_=()
[ "${GRPC_VERBOSE:-0}" = 1 ] && env_=(GRPC_GO_LOG_VERBOSITY_LEVEL=99 GRPC_GO_LOG_SEVERITY_LEVEL=info)
echo "+ ${env_[*]} $CRITEST ${args[*]} $*" | tee -a "$logs/summary.txt"
rc=0
for round in $(seq 1 "${ROUNDS:-1}"); do
  start=$(date +%s)
  (cd "$work/out" && env "${env_[@]}" "$CRITEST" "${args[@]}" "$@") >"$logs/critest.log" 2>&1
  rc=$?
  sleep 5   # the daemon settles before its memory is read
  [ "${ROUNDS:-1}" -gt 1 ] && echo "round $round: critest exit $rc; skiffd memory: $(rss)" | tee -a "$logs/summary.txt"
  inspect "round$round"
  [ $rc = 0 ] || break
done
{
  echo "critest exit $rc after $(( $(date +%s) - start ))s"
  grep -oE 'Ran [0-9]+ of [0-9]+ Specs.*|(SUCCESS|FAIL)! .*|[0-9]+ Passed \| [0-9]+ Failed.*' "$logs/critest.log"
  for f in "$logs"/bench-out/*_benchmark_data.json; do
    [ -f "$f" ] && python3 - "$f" <<'PY'
import json, statistics, sys, os
d = json.load(open(sys.argv[1])); pts = d["datapoints"]
ms = lambda v: "%.1f" % (v / 1e6)
print("%s: %d samples, %s parallel; median/p95 ms:" % (os.path.basename(sys.argv[1]), len(pts), d["numParallel"]),
      ", ".join("%s %s/%s" % (n, ms(statistics.median(c)), ms(sorted(c)[int(0.95 * (len(c) - 1))]))
                for n, c in zip(d["operationsNames"], zip(*[p["operationsDurationsNs"] for p in pts]))))
PY
  done
  grep -E '\[FAIL\]|\[TIMEDOUT\]|\[PANICKED\]' "$logs/critest.log" | sort | uniq -c | head -40
  echo "GOAWAY lines in critest.log: $(grep -c GOAWAY "$logs/critest.log")"
  echo "ALREADY_EXISTS lines in critest.log: $(grep -c -i 'AlreadyExists\|ALREADY_EXISTS' "$logs/critest.log")"
  echo "skiffd still running: $(kill -0 "$skiffd_pid" 2>/dev/null && echo yes || echo NO)"
  echo "skiffd memory after start: $rss_start"
  echo "skiffd memory 5 s after critest (its pods removed): $(rss)"
  echo "logs: $logs"
} | tee -a "$logs/summary.txt"
exit $rc
