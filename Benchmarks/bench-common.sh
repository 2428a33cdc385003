# Shared by the benchmarks that run a skiffd with the busybox fixture (sourced, not run):
# builds the release products, makes the run's directory, serves the fixture from Debian's
# docker-registry on a free 127.0.0.1 port and starts skiffd on a config of the run's own.
# Sets: repo, bin, work, registry_port, skiffd_pid; `bench_cleanup` undoes everything
# (callers may add their own steps before it in their EXIT trap). SKIFFD=path runs another
# skiffd binary (an earlier commit's, to compare two builds in the same conditions).
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/build-release.sh >/dev/null 2>&1
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d "/tmp/skiff-${bench_name:-bench}-XXXXXX")
registry_pid=""
skiffd_pid=""

bench_cleanup() {
  [ -n "$skiffd_pid" ] && kill "$skiffd_pid" 2>/dev/null && wait "$skiffd_pid" 2>/dev/null || true
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null || true
  for root in "$work"/state/runtime/*; do
    [ -d "$root" ] || continue
    case "$root" in
      *.holders) continue ;;
      */runsc) for id in $(runsc --root "$root" list -q 2>/dev/null); do runsc --root "$root" delete --force "$id" 2>/dev/null || true; done ;;
      *) for id in $(ls "$root"); do runc --root "$root" delete --force "$id" 2>/dev/null || true; done ;;
    esac
  done
  pkill -9 -f "conmon.*$work" 2>/dev/null || true
  pkill -9 -f "skiff-sandbox-shim.*$work" 2>/dev/null || true
  grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  [ -n "$bridge" ] && ip link del "$bridge" 2>/dev/null || true
  bash "$repo/scripts/remove-portmap-chains.sh"
  rm -rf "$work"
}

# A CNI bridge network of the run's own (name and /24 random) in $work/cni; sets $bridge, which
# bench_cleanup deletes.
bridge=""
write_bridge_network() {
  bridge="skb$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  mkdir -p "$work/cni"
  cat > "$work/cni/10-bench.conflist" <<JSON
{"cniVersion":"1.0.0","name":"$bridge","plugins":[
  {"type":"bridge","bridge":"$bridge","isGateway":true,"ipMasq":false,
   "ipam":{"type":"host-local","ranges":[[{"subnet":"10.252.$((RANDOM % 250 + 1)).0/24"}]],"dataDir":"$work/ipam"}},
  {"type":"portmap","capabilities":{"portMappings":true}},
  {"type":"loopback"}]}
JSON
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Serves the fixture as 127.0.0.1:$registry_port/bench/busybox:v1.
start_registry_with_fixture() {
  registry_port=$(free_port)
  printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s/registry}}\nhttp: {addr: 127.0.0.1:%s}\n' \
    "$work" "$registry_port" > "$work/registry.yml"
  docker-registry serve "$work/registry.yml" 2>"$work/registry.log" &
  registry_pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$registry_port/v2/" >/dev/null && break; sleep 0.1; done
  "$bin/skiff-fixture" standard --registry "http://127.0.0.1:$registry_port" --repository bench/busybox --tag v1 >/dev/null
}

# Starts skiffd with its root, state, socket and CNI conf dir under $work (and $1's TOML).
start_skiffd() {
  mkdir -p "$work/cni"
  printf 'root_dir = "%s/root"\nstate_dir = "%s/state"\nlog_level = "warning"\n[grpc]\nsocket = "%s/state/skiff.sock"\n[network]\ncni_conf_dir = "%s/cni"\n' \
    "$work" "$work" "$work" "$work" > "$work/skiff.toml"
  # $1: more TOML (e.g. handlers), appended.
  [ $# -gt 0 ] && printf '%s\n' "$1" >> "$work/skiff.toml"
  "${SKIFFD:-$bin/skiffd}" --config "$work/skiff.toml" 2>"$work/skiffd.log" &
  skiffd_pid=$!
  for _ in $(seq 1 100); do "$bin/skiff" version --socket "$work/state/skiff.sock" >/dev/null 2>&1 && break; sleep 0.05; done
}
