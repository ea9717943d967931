#!/usr/bin/env bash
# `make fuzz SECONDS=60`: builds the libFuzzer targets of this package and runs each for SECONDS
# seconds on seed corpora taken from the examples, the test fixtures, the shared test data and
# Seeds/. Prints executions per second and crashes per target; exits 1 if any target crashed.
# See docs/fuzzing.md. FUZZ_TARGETS="FuzzJSON FuzzDuration" runs only those.
set -euo pipefail

seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=${LOYALI_SHARED:-$root/../shared}
swift=${SWIFT:-swift}
all="FuzzJSON FuzzEventDecoder FuzzPipelineLoader FuzzSignature FuzzRetryAfter FuzzDuration FuzzDryRun"
read -r -a targets <<< "${FUZZ_TARGETS:-$all}"

# Manifest caching misses source files added to the root package since the last build.
build_flags=(-c release -Xswiftc -sanitize=fuzzer,address --disable-build-manifest-caching)
# ld.gold crashes linking -sanitize=fuzzer,address objects with debug info (internal error in
# format_file_lineno); the toolchain's own lld links them, so a toolset points SwiftPM at it.
lld="$(dirname "$(readlink -f "$(command -v "$swift")")")/ld.lld"
mkdir -p "$here/.build"
if [[ -x $lld ]]; then
    printf '{ "schemaVersion": "1.0", "linker": { "path": "%s" } }\n' "$lld" > "$here/.build/fuzz-toolset.json"
    build_flags+=(--toolset "$here/.build/fuzz-toolset.json")
fi
echo "fuzz: building ${targets[*]} (release, -sanitize=fuzzer,address)"
if ! (cd "$here" && "$swift" build "${build_flags[@]}" > .build/fuzz-build.log 2>&1); then
    grep -E 'error|warning:' "$here/.build/fuzz-build.log" | grep -v 'ld.lld' | head -40 >&2 || true
    echo "fuzz: build failed; full log in $here/.build/fuzz-build.log" >&2
    exit 2
fi
bin=$(cd "$here" && "$swift" build "${build_flags[@]}" --show-bin-path 2>/dev/null)

# Seeds are rebuilt on every run from the sources below; the corpus each target grows stays in
# .corpus/<target> (not in git) and is reused by the next run.
seeds="$here/.seeds"
rm -rf "$seeds"
lines_of() {  # one seed file per non-empty line of each file given
    local out=$1; shift
    local i=0 file
    for file in "$@"; do
        [[ -f $file ]] || continue
        while IFS= read -r line || [[ -n $line ]]; do
            [[ -n $line ]] || continue
            printf '%s' "$line" > "$out/line-$i"
            i=$((i + 1))
        done < "$file"
    done
}
event_files=("$root"/pipelines/events/*.jsonl "$root"/Tests/Fixtures/*.jsonl "$root"/Tests/Fixtures/cli/*.jsonl)
for target in "${targets[@]}"; do
    dir="$seeds/$target"
    mkdir -p "$dir" "$here/.corpus/$target" "$here/.artifacts/$target"
    [[ -d $here/Seeds/$target ]] && cp "$here/Seeds/$target"/* "$dir/"
    case $target in
    FuzzJSON)
        lines_of "$dir" "${event_files[@]}" "$root/Tests/Fixtures/golden/run-dry-run.jsonl"
        [[ -d $shared/testdata/JSONTestSuite/test_parsing ]] && cp "$shared"/testdata/JSONTestSuite/test_parsing/* "$dir/"
        ;;
    FuzzEventDecoder)
        lines_of "$dir" "${event_files[@]}"
        ;;
    FuzzPipelineLoader)
        find "$root/pipelines" "$root/Tests/Fixtures" -name '*.yaml' | while read -r file; do
            cp "$file" "$dir/$(echo "${file#"$root"/}" | tr / _)"
        done
        ;;
    FuzzDuration)
        grep -ohE '\b[0-9]+(\.[0-9]+)?(ms|s|m|h|d)\b' "$root"/pipelines/*.yaml "$root"/README.md "$root"/docs/*.md \
            | sort -u | while read -r duration; do printf '%s' "$duration" > "$dir/from-docs-$duration"; done
        ;;
    FuzzDryRun)
        lines_of "$dir" "${event_files[@]}"
        for file in "${event_files[@]}"; do [[ -f $file ]] && cp "$file" "$dir/$(basename "$file")"; done
        ;;
    esac
done

declare -A max_len=([FuzzPipelineLoader]=8192 [FuzzJSON]=8192)
status=0
summary=()
for target in "${targets[@]}"; do
    log="$here/.artifacts/$target/last-run.log"
    dict=()
    [[ -f $here/Dictionaries/$target.dict ]] && dict=(-dict="$here/Dictionaries/$target.dict")
    echo "fuzz: $target for ${seconds}s"
    marker="$here/.artifacts/$target/.run-start"
    touch "$marker"  # its time stamp tells which artifacts this run saved
    # Fork mode with crashes ignored: a crash is saved and counted, and the run goes on for the
    # whole time instead of stopping at the first one.
    set +e
    SWIFT_BACKTRACE=enable=no "$bin/$target" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 -max_len="${max_len[$target]:-4096}" \
        "${dict[@]}" -artifact_prefix="$here/.artifacts/$target/" "$here/.corpus/$target" "$seeds/$target" > "$log" 2>&1
    code=$?
    set -e
    # The last status line: "#RUNS: cov: C ft: F corp: N exec/s: E oom/timeout/crash: O/T/C time: Ss ...".
    last=$( (grep -E '^#[0-9]+: cov:' "$log" || true) | tail -1)
    runs=$(sed -E 's/^#([0-9]+):.*/\1/' <<< "$last")
    cov=$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<< "$last")
    failures=$(sed -nE 's|.*oom/timeout/crash: ([0-9]+/[0-9]+/[0-9]+) .*|\1|p' <<< "$last")
    elapsed=$(sed -nE 's/.* time: ([0-9]+)s .*/\1/p' <<< "$last")
    rate="?"
    [[ -n $runs && -n $elapsed && $elapsed -gt 0 ]] && rate=$((runs / elapsed))
    # Fork mode logs no reasons, so each saved input is replayed once to name what broke.
    # Fork mode logs no reasons, so each saved input is replayed once to name what broke.
    kinds=$(find "$here/.artifacts/$target" -newer "$marker" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
        | head -50 | while read -r input; do
        replay=$(SWIFT_BACKTRACE=enable=no timeout 60 "$bin/$target" -timeout=25 -rss_limit_mb=4096 "$input" 2>&1 | tr -d '\0' || true)
        reason=""
        for pattern in 'FUZZ PROPERTY FAILED: .{0,70}' 'Swift runtime failure: [^/]*[^ /]' 'Fatal error: .{0,70}' \
            'ERROR: AddressSanitizer: [a-z-]+' 'ERROR: libFuzzer: [a-z -]+'; do
            reason=$( (grep -aoE "$pattern" <<< "$replay" || true) | head -1)
            [[ -n $reason ]] && break
        done
        echo "${reason:-$(basename "$input"): did not fail again on replay}"
    done | sort | uniq -c | sort -rn)
    summary+=("$(printf '%-19s %9s runs in %4ss = %6s exec/s  cov %5s  oom/timeout/crash %s' \
        "$target" "${runs:-?}" "${elapsed:-?}" "$rate" "${cov:-?}" "${failures:-?}")")
    if [[ -n $kinds ]]; then
        status=1
        summary+=("$(sed 's/^ */    /' <<< "$kinds")")
    elif [[ $code -ne 0 ]]; then
        status=1
        summary+=("    exit $code; see $log")
    fi
done
echo
printf '%s\n' "${summary[@]}"
echo "(crash inputs: Tests/Fuzz/.artifacts/<target>/crash-*; replay one with: Tests/Fuzz/.build/release/<target> FILE)"
exit $status
