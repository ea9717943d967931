#!/usr/bin/env bash
# Ordered delivery's cost: the same events drained to one loopback nginx twice in one run, once by a
# plain sink and once by a sink with `ordering: { key: data.customer_id }` (a few thousand distinct
# keys, as bench/gen-events.py draws them). Prints both rates and their ratio (issue 14's target:
# ordered ≥ 0.8 of unordered). Release build only.
#
#   bash bench/ordering.sh [EVENTS]    (default 50000)
#
# LOYALI_HOOKS_BIN=path runs another build (e.g. an older one, for a before/after in one sitting).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/nginx.sh
. bench/lib/nginx.sh

events=${1:-50000}
port=${BENCH_PORT:-18193}
work=$(mktemp -d)
cleanup() { stop_nginx "$work"; rm -rf "$work"; }
trap cleanup EXIT
command -v nginx > /dev/null || { echo "bench needs nginx: apt-get install -y nginx" >&2; exit 2; }
bin=${LOYALI_HOOKS_BIN:-.build/release/loyali-hooks}
[ -x "$bin" ] || swift build -c release

start_nginx "$work" "$port"
export BENCH_SECRET=whsec_bench_secret_not_for_production
python3 bench/gen-events.py "$events" > "$work/events.jsonl"
keys=$(python3 -c 'import json,sys; print(len({json.loads(l)["data"].get("customer_id") for l in open(sys.argv[1])}))' "$work/events.jsonl")

drain() { # NAME, extra sink YAML: deliveries/s on stdout
    local name=$1 extra=$2
    cat > "$work/$name.yaml" <<YAML
pipeline: ordering-bench
source: { type: file, path: "$work/events.jsonl" }
sign: { secrets: ["\${BENCH_SECRET}"] }
sinks:
  nginx: { type: http, url: "http://127.0.0.1:$port/hook", max_in_flight: 32$extra }
YAML
    local start end
    start=$(date +%s.%N)
    "$bin" run "$work/$name.yaml" --drain --state "$work/state-$name" > /dev/null 2> "$work/$name.log" \
        || { tail -5 "$work/$name.log" >&2; exit 1; }
    end=$(date +%s.%N)
    grep -q " $events delivered, .* scheduled, 0 failed" "$work/$name.log" \
        || { echo "$name: not every delivery made:" >&2; tail -2 "$work/$name.log" >&2; exit 1; }
    python3 -c "print($events / ($end - $start))"
}

plain_before=$(drain plain-1 "")
ordered=$(drain ordered ", ordering: { key: data.customer_id }")
plain_after=$(drain plain-2 "")
python3 - "$plain_before" "$ordered" "$plain_after" "$events" "$keys" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import sys
before, ordered, after = map(float, sys.argv[1:4])
plain = (before + after) / 2
print(f"{sys.argv[4]} events, {sys.argv[5]} distinct keys, load average {sys.argv[6]}")
print(f"unordered: {plain:,.0f} deliveries/s (before {before:,.0f}, after {after:,.0f})")
print(f"ordered by data.customer_id: {ordered:,.0f} deliveries/s")
print(f"ratio ordered / unordered: {ordered / plain:.2f} (target >= 0.8)")
PY
