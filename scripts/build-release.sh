#!/usr/bin/env bash
# Builds Skiff's release binaries (every product, or those named) with the compiler flags an idle
# skiffd's memory depends on. They must
# reach every module, the dependencies' too, so they are given here and not in Package.swift
# (whose settings reach only Skiff's own targets):
#   - every function in its own section (Swift and C), so that lld can place the functions
#     skiffd's start runs side by side (Sources/skiffd/link/startup-order.txt, Package.swift);
#   - no autolink of Foundation, CoreFoundation and FoundationInternationalization: Skiff uses
#     FoundationEssentials alone, but modules that `import Foundation` (SwiftProtobuf,
#     GRPCProtobuf) make the linker load Foundation's static archives, and with them ICU and
#     their initialisers (2.6 MiB of an idle skiffd). scripts/check-no-foundation.sh on the
#     result shows that nothing else uses Foundation. The fixture and benchmark tools, which do,
#     link it by name (Package.swift).
# Idle RSS: docs/performance.md. Usage: bash scripts/build-release.sh [PRODUCT…]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
flags=(-c release -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections)
for library in Foundation CoreFoundation FoundationInternationalization; do
    flags+=(-Xswiftc -Xfrontend -Xswiftc -disable-autolink-library -Xswiftc -Xfrontend -Xswiftc "$library")
done
[ $# -gt 0 ] || exec swift build "${flags[@]}"
for product in "$@"; do
    swift build "${flags[@]}" --product "$product"
done
