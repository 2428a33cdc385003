#!/usr/bin/env bash
# Sets up this node for Skiff and (re)starts skiffd with the default configuration:
#   1. installs the Debian packages Skiff needs (scripts/system-packages.txt) and, on cgroup v1
#      hybrid nodes, mounts the hugetlb hierarchy crun needs (scripts/prepare-cgroups.sh);
#   2. builds skiffd, skiff, skiff-pinns, skiff-pause and skiff-sandbox-shim in release mode and installs them into /usr/local/bin;
#   3. writes /etc/skiff/skiff.toml (every default, commented) unless it exists;
#   4. writes a default bridge CNI network unless /etc/cni/net.d has one;
#   5. stops a running skiffd and starts the new one in the background, logging to
#      /var/log/skiffd.log, and waits until it answers on its socket.
# Run as root from the repository: bash scripts/setup-node.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }

bash "$repo/scripts/install-packages.sh"
bash "$repo/scripts/prepare-cgroups.sh"

echo "building skiffd and skiff (release)…"
bash "$repo/scripts/build-release.sh" skiffd skiff skiff-pinns skiff-pause skiff-sandbox-shim >/tmp/skiff-build.log 2>&1 \
  || { tail -50 /tmp/skiff-build.log >&2; exit 1; }
bin=$(cd "$repo" && swift build -c release --show-bin-path)
install -m 0755 "$bin/skiffd" /usr/local/bin/skiffd.new && mv -f /usr/local/bin/skiffd.new /usr/local/bin/skiffd
install -m 0755 "$bin/skiff" /usr/local/bin/skiff.new && mv -f /usr/local/bin/skiff.new /usr/local/bin/skiff
# skiffd runs skiff-pinns from its own directory to create pod namespaces.
install -m 0755 "$bin/skiff-pinns" /usr/local/bin/skiff-pinns.new && mv -f /usr/local/bin/skiff-pinns.new /usr/local/bin/skiff-pinns
# and skiff-pause as PID 1 of pods that share a PID namespace.
install -m 0755 "$bin/skiff-pause" /usr/local/bin/skiff-pause.new && mv -f /usr/local/bin/skiff-pause.new /usr/local/bin/skiff-pause
# and skiff-sandbox-shim under conmon for the containers of gVisor (runsc) pods.
install -m 0755 "$bin/skiff-sandbox-shim" /usr/local/bin/skiff-sandbox-shim.new && mv -f /usr/local/bin/skiff-sandbox-shim.new /usr/local/bin/skiff-sandbox-shim

if [ ! -f /etc/skiff/skiff.toml ]; then
  install -d -m 0755 /etc/skiff
  /usr/local/bin/skiff config default > /etc/skiff/skiff.toml
  echo "wrote /etc/skiff/skiff.toml"
fi

cni_dir=/etc/cni/net.d
if ! ls "$cni_dir"/*.conflist "$cni_dir"/*.conf "$cni_dir"/*.json >/dev/null 2>&1; then
  install -d -m 0755 "$cni_dir"
  cat > "$cni_dir/10-skiff-bridge.conflist" <<'JSON'
{
  "cniVersion": "1.0.0",
  "name": "skiff",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "skiff0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "routes": [{ "dst": "0.0.0.0/0" }],
        "ranges": [[{ "subnet": "10.85.0.0/16" }]]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" }
  ]
}
JSON
  echo "wrote $cni_dir/10-skiff-bridge.conflist (bridge skiff0, 10.85.0.0/16)"
fi

/usr/local/bin/skiff check || true

state_dir=$(awk -F'"' '/^state_dir = /{print $2; exit}' /etc/skiff/skiff.toml)
lock="${state_dir:-/run/skiff}/skiffd.lock"
if [ -s "$lock" ]; then
  old=$(head -1 "$lock")
  if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
    echo "stopping skiffd (pid $old)"
    kill -TERM "$old"
    for _ in $(seq 1 150); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
  fi
fi

nohup /usr/local/bin/skiffd --config /etc/skiff/skiff.toml >>/var/log/skiffd.log 2>&1 </dev/null &
pid=$!
for _ in $(seq 1 100); do
  if /usr/local/bin/skiff version --config /etc/skiff/skiff.toml >/dev/null 2>&1; then
    /usr/local/bin/skiff version --config /etc/skiff/skiff.toml
    echo "skiffd running (pid $pid); log: /var/log/skiffd.log"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
echo "skiffd did not start; last log lines:" >&2
tail -20 /var/log/skiffd.log >&2
exit 1
