#!/usr/bin/env bash
# Regenerates Sources/CRIAPI from the CRI v1 api.proto (cri-api v0.36.3), and
# Sources/SkiffAdminAPI from Protos/skiff/admin/v1/admin.proto (Skiff's own admin API).
#
# Usage: scripts/generate-cri-api.sh [path/to/api.proto]
# Needs protoc (Debian's protobuf-compiler 3.21). The two Swift plugins are built here from the
# package versions Package.swift pins, in a scratch package under .build-protoc-plugins/.
# protoc 3.21 does not know the `debug_redact` field option, so it is stripped from a copy first;
# the generated code is otherwise untouched — never edit the output by hand.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
proto=${1:-$repo/../shared/cri-api/api.proto}
[ -f "$proto" ] || { echo "api.proto not found at $proto" >&2; exit 1; }
command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler" >&2; exit 1; }

plugins=$repo/.build-protoc-plugins
mkdir -p "$plugins/Sources/placeholder"
cat > "$plugins/Package.swift" <<'SWIFT'
// swift-tools-version:6.1
import PackageDescription
let package = Package(
  name: "protoc-plugins",
  dependencies: [
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
  ],
  targets: [.executableTarget(name: "placeholder", path: "Sources/placeholder")]
)
SWIFT
echo 'print("placeholder")' > "$plugins/Sources/placeholder/main.swift"
(cd "$plugins" && swift build -c release --product protoc-gen-swift >&2 && swift build -c release --product protoc-gen-grpc-swift-2 >&2)
bin=$(cd "$plugins" && swift build -c release --show-bin-path)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/runtime/v1"
# Drop `[debug_redact = true]` (protoc 3.21 predates it); it only affects debug printing.
sed -E 's/ *\[debug_redact = true\]//' "$proto" > "$work/runtime/v1/api.proto"
if grep -q debug_redact "$work/runtime/v1/api.proto"; then
  echo "a debug_redact option survived the strip; update this script" >&2
  exit 1
fi

# generate INCLUDE_DIR PROTO OUTPUT_DIR: the message and the grpc-swift-2 code of one proto file.
generate() {
  rm -f "$3"/*.swift
  protoc -I "$1" \
    --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift="$bin/protoc-gen-grpc-swift-2" \
    --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath \
    --swift_out="$3" \
    --grpc-swift_opt=Visibility=Public --grpc-swift_opt=FileNaming=DropPath \
    --grpc-swift_out="$3" \
    "$2"
  echo "generated: $(ls "$3" | tr '\n' ' ')"
}

generate "$work" runtime/v1/api.proto "$repo/Sources/CRIAPI"
generate "$repo/Protos" skiff/admin/v1/admin.proto "$repo/Sources/SkiffAdminAPI"
