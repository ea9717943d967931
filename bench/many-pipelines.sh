#!/usr/bin/env bash
# Many subscriptions on one node (issue 10): PIPELINES pipeline files (default 1000), each with one
# http sink to one loopback address, and EVENTS input events (default 10000), each subscribed to by
# a fifth of the pipelines. Measures `validate` and `run --dry-run --json` (2,000,000 deliveries
# at the defaults): wall time and peak RSS (`/usr/bin/time -v`).
#
#     bench/many-pipelines.sh [PIPELINES] [EVENTS]
#
# BIN overrides the binary (default .build/release/loyali-hooks, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
pipelines=${1:-1000}
events=${2:-10000}
bin=${BIN:-.build/release/loyali-hooks}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x "$bin" ] || swift build -c release
export BENCH_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw

python3 bench/many-pipelines.py "$pipelines" "$work/pipelines"
python3 bench/gen-events.py "$events" > "$work/events.jsonl"

measure() { # label, command…
    local label=$1; shift
    /usr/bin/time -v "$@" > /dev/null 2> "$work/time.txt" || { tail -5 "$work/time.txt" >&2; exit 1; }
    local rss wall
    rss=$(awk -F': ' '/Maximum resident set size/ {print int($2 / 1024)}' "$work/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
    printf '%-40s %10s wall  %6s MB peak RSS\n' "$label" "$wall" "$rss"
}

measure "validate ($pipelines files)" "$bin" validate "$work/pipelines"
measure "run --dry-run --json ($events events)" "$bin" run "$work/pipelines" --input "$work/events.jsonl" --dry-run --json
"$bin" run "$work/pipelines" --input "$work/events.jsonl" --dry-run --json 2>/dev/null | wc -l | awk '{print "deliveries printed: " $1}'
