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

# ld.gold crashes linking -sanitize=fuzzer,address objects with debug info (internal error in
# format_file_lineno); the toolchain's own lld links them, so a toolset points SwiftPM at it.
build_flags=(-c release -Xswiftc -sanitize=fuzzer,address)
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
        for file in "${event_files[@]}"; do [[ -f $file ]] && cp "$file" "$dir/$(basename "$file")"; done
        ;;
    esac
done

declare -A max_len=([FuzzPipelineLoader]=8192 [FuzzDryRun]=16384 [FuzzJSON]=8192)
status=0
summary=()
for target in "${targets[@]}"; do
    log="$here/.artifacts/$target/last-run.log"
    dict=()
    [[ -f $here/Dictionaries/$target.dict ]] && dict=(-dict="$here/Dictionaries/$target.dict")
    echo "fuzz: $target for ${seconds}s"
    touch "$log.start"
    set +e
    SWIFT_BACKTRACE=enable=no "$bin/$target" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 \
        -max_len="${max_len[$target]:-4096}" -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$here/.artifacts/$target/" "$here/.corpus/$target" "$seeds/$target" > "$log" 2>&1
    code=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    crashes=$(find "$here/.artifacts/$target" -newer "$log.start" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    summary+=("$(printf '%-20s %10s runs %8s exec/s  cov %6s  exit %3s  new crash/timeout/oom files: %s' \
        "$target" "${runs:-?}" "${rate:-?}" "${cov:-?}" "$code" "$crashes")")
    if [[ $code -ne 0 ]]; then
        status=1
        echo "fuzz: $target stopped (exit $code); see $log" >&2
        grep -E 'FUZZ PROPERTY FAILED|Fatal error|ERROR: (libFuzzer|AddressSanitizer)|Test unit written' "$log" | head -5 >&2 || true
    fi
done
printf '%s\n' "${summary[@]}"
exit $status
