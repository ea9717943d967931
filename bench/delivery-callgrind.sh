#!/usr/bin/env bash
# Instructions per delivery, which load on a shared box does not distort: runs `run --drain` of
# the durable-delivery bench (bench/delivery-pipeline.yaml, store on, one local nginx answering
# 200) under `valgrind --tool=callgrind` for SMALL and LARGE events, and prints
# (I(LARGE) - I(SMALL)) / (LARGE - SMALL), so start-up cancels out. Give several binaries to
# compare them on the same events, e.g. a build before and after a change:
#
#   bash bench/delivery-callgrind.sh [-n SMALL,LARGE] BINARY [BINARY...]
#
# BENCH_PIPELINE=FILE drains another pipeline over the same events and endpoint, e.g.
# bench/ordered-delivery-pipeline.yaml for the price of `ordering:`.
#
# BENCH_STORE_SQL='CREATE INDEX …' runs that SQL (sqlite3) on each run's freshly created store
# before the timed run, so the write cost of an index can be measured on one binary: run once
# without and once with it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/nginx.sh
. bench/lib/nginx.sh
sizes=5000,15000
if [ "${1:-}" = "-n" ]; then sizes=$2; shift 2; fi
small=${sizes%,*}
large=${sizes#*,}
[ $# -ge 1 ] || { echo "usage: $0 [-n SMALL,LARGE] BINARY [BINARY...]" >&2; exit 2; }
port=${BENCH_PORT:-18191}
work=$(mktemp -d)
cleanup() { stop_nginx "$work"; rm -rf "$work"; }
trap cleanup EXIT
for tool in nginx valgrind callgrind_annotate; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 2; }; done

start_nginx "$work" "$port"
python3 bench/gen-events.py "$small" > "$work/small.jsonl"
python3 bench/gen-events.py "$large" > "$work/large.jsonl"
export BENCH_SECRET=whsec_bench_secret_not_for_production BENCH_PORT=$port
pipeline=${BENCH_PIPELINE:-bench/delivery-pipeline.yaml}

# Total instructions of one run over every thread.
instructions() {
    local binary=$1 events=$2 name=$3
    rm -rf "$work/state-$name"
    if [ -n "${BENCH_STORE_SQL:-}" ]; then
        BENCH_EVENTS=/dev/null "$binary" run "$pipeline" --drain --state "$work/state-$name" >/dev/null 2>&1
        sqlite3 "$work/state-$name/loyali-hooks.db" "$BENCH_STORE_SQL"
    fi
    BENCH_EVENTS="$events" valgrind --tool=callgrind --callgrind-out-file="$work/cg-$name" \
        "$binary" run "$pipeline" --drain --state "$work/state-$name" >/dev/null 2>"$work/log-$name"
    callgrind_annotate "$work/cg-$name" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }'
}
printf '%-50s %14s %14s %12s\n' "binary" "I($small)" "I($large)" "per delivery"
index=0
for binary in "$@"; do
    index=$((index + 1))
    a=$(instructions "$binary" "$work/small.jsonl" "$index-small")
    b=$(instructions "$binary" "$work/large.jsonl" "$index-large")
    printf '%-50s %14s %14s %12s\n' "$binary" "$a" "$b" "$(( (b - a) / (large - small) ))"
done
