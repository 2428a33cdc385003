# Sourced (not run) by the benchmarks that run Skiff and Debian's containerd one after the other
# on the same CNI chain and images: containerd-side-by-side.sh and pod-memory-benchmark.sh.
# The caller sets repo, SKIFFD, CONTAINERD, CRICTL, PORT (exported), CRITEST_DIR and side_name (the
# logs' name); this file makes the run's directory ($work, and $logs under $CRITEST_DIR/logs),
# serves critest's images and the pause image (serve-images.sh), writes one CNI conflist for both
# daemons (a bridge name and /24 of the run's own), and defines skiff_config, containerd_config,
# start_daemon / stop_daemon (one daemon at a time: $daemon_pid, $socket, $work/crictl.yaml),
# crictl and rss_kib. Its EXIT trap removes everything the run started: both daemons, shims,
# conmons, pods, mounts, network namespaces, the bridge, CNI iptables chains that were not there
# before, containerd's shim sockets, the registry (if this run started it) and the directory
# (KEEP=1 keeps the directory); "$work"/out, *.log, *.toml and cni are copied to $logs first.
logs=$CRITEST_DIR/logs/${side_name:-side-by-side}-$(date +%Y%m%d-%H%M%S)
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
source "$repo/scripts/critest/bridge-conflist.sh"
write_bridge_conflist "$work/cni/10-side-by-side.conflist" "side-$bridge" "$bridge" "$subnet" "$work/ipam"

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
