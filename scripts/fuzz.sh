#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (one per parser of hostile bytes) and runs each for a
# bounded time over a temporary copy of its seed corpus (Fuzz/corpus/<target>/, which stays as
# committed).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 20; TARGETs default to all of them:
#   tar reference manifest auth spdy upgrade toml cni cdi
# Prints one line per target (runs, coverage, corpus) and `N passed, N failed`; exits non-zero
# when a target fails to build, crashes, times out on an input or runs out of memory. A
# failing input is kept in .build-fuzz/crashes/<target>/; replay it with
#   SWIFT_BACKTRACE=enable=no .build-fuzz/release/fuzz-<target> <file>
#
# Environment: SKIFF_FUZZ_SCRATCH (build directory, default .build-fuzz), SKIFF_FUZZ_CONFIG
# (release or debug, default release).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

all_targets=(tar reference manifest auth spdy upgrade toml cni cdi)
seconds=${1:-20}
[ $# -gt 0 ] && shift
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]  (targets: ${all_targets[*]})" >&2
    exit 2
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
    if [[ " ${all_targets[*]} " != *" $target "* ]]; then
        echo "unknown fuzz target '$target' (targets: ${all_targets[*]})" >&2
        exit 2
    fi
done

command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
scratch=${SKIFF_FUZZ_SCRATCH:-$root/.build-fuzz}
config=${SKIFF_FUZZ_CONFIG:-release}
mkdir -p "$scratch"
rm -f "$scratch"/build*.log
# The fuzz package resolves the main package's dependencies to the same versions.
[ -f Package.resolved ] && cp Package.resolved Fuzz/Package.resolved

build() {
    swift build --package-path Fuzz --scratch-path "$scratch" -c "$config" \
        --sanitize=fuzzer -Xswiftc -enable-testing "$@"
}

passed=0
failed=0
declare -A built
started=$(date +%s)
echo "building ${targets[*]} ($config) in $scratch ..."
if [ ${#targets[@]} -eq ${#all_targets[@]} ] && build >"$scratch/build.log" 2>&1; then
    # All of them in one build (they share their dependencies).
    for target in "${targets[@]}"; do built[$target]=1; done
else
    # One by one: only what the chosen targets need (toml needs no NIO), or to tell which fail.
    [ -s "$scratch/build.log" ] && grep -E "error:" "$scratch/build.log" | sort -u | head -20 >&2
    for target in "${targets[@]}"; do
        if build --product "fuzz-$target" >"$scratch/build-$target.log" 2>&1; then
            built[$target]=1
        else
            grep -E "error:" "$scratch/build-$target.log" | sort -u | head -10 >&2
        fi
    done
fi
echo "build took $(($(date +%s) - started)) s"
bin=$(build --show-bin-path 2>/dev/null)

for target in "${targets[@]}"; do
    if [ -z "${built[$target]:-}" ]; then
        echo "$target: FAILED to build (see $scratch/build*.log)"
        failed=$((failed + 1))
        continue
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/skiff-fuzz-$target.XXXXXX")
    cp -R "Fuzz/corpus/$target" "$work/corpus"
    crashes="$scratch/crashes/$target"
    mkdir -p "$crashes"
    log="$scratch/fuzz-$target.log"
    # libFuzzer, not Swift's backtracer, must see a crash, to write the failing input.
    SWIFT_BACKTRACE=enable=no "$bin/fuzz-$target" "$work/corpus" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$crashes/" >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    progress=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$progress")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$progress")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$progress")
    summary="${runs:-?} runs, cov ${cov:-?}, features ${ft:-?}, corpus ${corp:-?} (seeds $(ls "Fuzz/corpus/$target" | wc -l))"
    if [ $status -eq 0 ]; then
        echo "$target: ok, $summary"
        passed=$((passed + 1))
        rm -rf "$work"
    else
        what=$(grep -m1 -oE 'ERROR: libFuzzer: [a-z -]+|Fatal error: .*|Precondition failed: .*' "$log" | head -c 300)
        artifact=$(grep -m1 -oE "Test unit written to [^ ]+" "$log" | sed 's/Test unit written to //')
        echo "$target: FAILED (exit $status: ${what:-see log}), $summary; input ${artifact:-none}; log $log; corpus kept in $work/corpus"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
