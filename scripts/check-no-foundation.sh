#!/usr/bin/env bash
# Fails if skiffd uses Foundation proper (libFoundation, FoundationInternationalization, ICU,
# CoreFoundation) instead of FoundationEssentials alone: Foundation costs an idle skiffd about
# 4 MiB of resident pages (issue 15, docs/performance.md).
#   dynamic build (debug): no undefined symbol of those modules (a SwiftPM debug link still
#                          lists libFoundation.so as NEEDED: SwiftProtobuf autolinks it unused)
#   static runtime (release): no such library NEEDED and no symbol of them linked in
# Usage: bash scripts/check-no-foundation.sh [BINARY]   (default .build/debug/skiffd)
set -euo pipefail
binary=${1:-.build/debug/skiffd}
[ -x "$binary" ] || { echo "check-no-foundation: $binary not found (build it first)" >&2; exit 2; }
# Mangled module prefixes: $s10Foundation…, $s31FoundationInternationalization…; CoreFoundation's C
# functions (CF…, _CF…) and ICU's (u_…_74 style, ucol_/udat_/…) come only with them.
pattern='^_?\$s(10Foundation|31FoundationInternationalization|14_FoundationICU)|^_?CF[A-Z][a-z]|^_?(u|ucol|udat|unum|ucal|uloc|ures)_[a-zA-Z]+_[0-9]+$'
if readelf -d "$binary" | grep -q 'NEEDED.*libswiftCore'; then
    found=$(nm -u --format=just-symbols "$binary" | grep -E "$pattern" || true)
    what="undefined symbols"
else
    found=$( (readelf -d "$binary" | grep -E 'NEEDED.*(libFoundation\.|libFoundationInternationalization|_FoundationICU)' || true;
        nm --defined-only --format=just-symbols "$binary" | grep -E "$pattern" || true))
    what="libraries or linked-in symbols"
fi
if [ -n "$found" ]; then
    echo "check-no-foundation: $binary uses Foundation ($what), first ones:" >&2
    echo "$found" | head -20 | swift demangle >&2
    exit 1
fi
echo "check-no-foundation: $binary uses FoundationEssentials only"
