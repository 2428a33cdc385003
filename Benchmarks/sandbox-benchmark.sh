#!/usr/bin/env bash
# Pod sandbox benchmark: 20 RunPodSandbox+StopPodSandbox+RemovePodSandbox sequentially and 20
# concurrently through a release skiffd, next to the floor measured in the same run (skiff-pinns
# namespaces + the same CNI chain ADD/DEL, directly). Uses a bridge and subnet of its own.
# Usage (root): bash Benchmarks/sandbox-benchmark.sh [COUNT=20]
set -euo pipefail
count=${1:-20}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bash scripts/build-release.sh >/dev/null 2>&1
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/skiff-sbench-XXXXXX)
bridge="skb$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/cni"
cat > "$work/cni/10-bench.conflist" <<JSON
{"cniVersion":"1.0.0","name":"$bridge","plugins":[
  {"type":"bridge","bridge":"$bridge","isGateway":true,"ipMasq":false,
   "ipam":{"type":"host-local","ranges":[[{"subnet":"10.253.$((RANDOM % 250 + 1)).0/24"}]],"dataDir":"$work/ipam"}},
  {"type":"portmap","capabilities":{"portMappings":true}},
  {"type":"loopback"}]}
JSON
printf 'root_dir = "%s/root"\nstate_dir = "%s/state"\nlog_level = "warning"\n[grpc]\nsocket = "%s/state/skiff.sock"\n[network]\ncni_conf_dir = "%s/cni"\n' \
  "$work" "$work" "$work" "$work" > "$work/skiff.toml"
"$bin/skiffd" --config "$work/skiff.toml" 2>"$work/skiffd.log" &
pid=$!
for _ in $(seq 1 100); do "$bin/skiff" version --socket "$work/state/skiff.sock" >/dev/null 2>&1 && break; sleep 0.05; done
mkdir -p "$work/floor"
"$bin/skiff-bench" sandboxes --socket "$work/state/skiff.sock" --cni-conf-dir "$work/cni" --scratch "$work/floor" --count "$count"
