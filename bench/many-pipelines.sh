#!/usr/bin/env bash
# Many subscriptions on one node (issue 10): PIPELINES pipeline files (default 1000), each with one
# http sink to one loopback address, and EVENTS input events (default 10000), each subscribed to by
# a fifth of the pipelines. Measures `validate` and `run --dry-run --json` (2,000,000 deliveries
# at the defaults): wall time and peak RSS (`/usr/bin/time -v`).
#
#     bench/many-pipelines.sh [PIPELINES] [EVENTS]
#
# Start-up at scale (issue 10 §6): `validate` and `serve` (from exec until /readyz answers 200)
# with PIPELINES files (default 10000) and, as the same-run baselines, with a tenth of them and
# `loyali-hooks --version`. Each pipeline has an http sink to a loopback URL and an http source
# (even ones) or a file source (odd ones); three runs each:
#
#     bench/many-pipelines.sh startup [PIPELINES]
#
# Delivery during a reload (issue 10 §6): `serve` with PIPELINES files (default 1000) delivers a
# steady stream of events to a receiver (bench/reload-gap.py) while one other pipeline's file is
# changed and reloaded; prints the longest gap between arrivals before the reload (the same-run
# baseline) and around it:
#
#     bench/many-pipelines.sh reload [PIPELINES]
#
# BIN overrides the binary (default .build/release/loyali-hooks, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

startup_bench() { # PIPELINES
    local pipelines=${1:-10000} bin=${BIN:-.build/release/loyali-hooks} work
    work=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    [ -x "$bin" ] || swift build -c release
    export BENCH_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw INGEST_TOKEN=bench-ingest-token
    local small=$((pipelines / 10))
    python3 bench/many-pipelines.py "$pipelines" "$work/large" --source mixed --listen 127.0.0.1:18191
    python3 bench/many-pipelines.py "$small" "$work/small" --source mixed --listen 127.0.0.1:18191
    local admin=127.0.0.1:18192
    elapsed() { echo "$2 - $1" | bc | awk '{printf "%.3f", $1}'; }
    # Wall time and peak RSS of one command, as "SECONDS s, RSS MB".
    timed() {
        /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        awk '{printf "%.2f s, %d MB peak RSS", $1, $2 / 1024}' "$work/time.txt"
    }
    # serve from exec until /readyz answers 200, then SIGTERM; "SECONDS s, RSS MB, THREADS threads".
    serve_ready() { # FOLDER
        local state start end pid
        state=$(mktemp -d "$work/state.XXXX")
        start=$(date +%s.%N)
        "$bin" serve "$1" --state "$state" --admin "$admin" 2> "$work/serve.log" &
        pid=$!
        until curl -sf -o /dev/null "http://$admin/readyz"; do
            kill -0 "$pid" 2> /dev/null || { tail -5 "$work/serve.log" >&2; exit 1; }
            sleep 0.01
        done
        end=$(date +%s.%N)
        local rss threads
        read -r rss threads < <(ps -o rss=,nlwp= -p "$pid")
        kill -TERM "$pid"
        wait "$pid" || true
        printf '%s s, %d MB RSS, %d threads' "$(elapsed "$start" "$end")" $((rss / 1024)) "$threads"
    }
    echo "start-up, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg):"
    for run in 1 2 3; do
        echo "run $run:"
        printf '  %-28s %s\n' "--version" "$(timed "$bin" --version)"
        printf '  %-28s %s\n' "validate ($small files)" "$(timed "$bin" validate "$work/small")"
        printf '  %-28s %s\n' "validate ($pipelines files)" "$(timed "$bin" validate "$work/large")"
        printf '  %-28s %s\n' "serve ready ($small files)" "$(serve_ready "$work/small")"
        printf '  %-28s %s\n' "serve ready ($pipelines files)" "$(serve_ready "$work/large")"
    done
}

if [ "${1:-}" = reload ]; then
    bin=${BIN:-.build/release/loyali-hooks}
    [ -x "$bin" ] || swift build -c release
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    python3 bench/reload-gap.py "$bin" "${2:-1000}" "$work"
    exit 0
fi

if [ "${1:-}" = startup ]; then
    shift
    startup_bench "$@"
    exit 0
fi
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
