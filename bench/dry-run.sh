#!/usr/bin/env bash
# Core-pipeline benchmark: `run --dry-run --json` over 100k events (filter + pick + redact +
# signing, output to a file) against `jq -c` doing only the same filter and projection, unsigned,
# measured in the same run with hyperfine. Prints events/s for both and the ratio, then the same
# run with a three-clause filter.where: its events/s, and the cost of the where per event.
#
#   make bench            # or: bash bench/dry-run.sh [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v hyperfine >/dev/null && command -v jq >/dev/null || {
    echo "bench needs hyperfine and jq: apt-get install -y hyperfine jq" >&2; exit 2; }
[ -x .build/release/loyali-hooks ] || swift build -c release

python3 bench/gen-events.py "$events" > "$work/events.jsonl"
export BENCH_SECRET=whsec_bench_secret_not_for_production

# The same filter and projection as bench/pipeline.yaml, without signing.
jq_program='select(.event_type | startswith("points.") or startswith("redemption.") or . == "tier.upgraded")
  | {id, event_type, created_at, data: (.data | {customer_id, customer_email, amount, new_balance, reward, points_spent, new_tier}
  | with_entries(select(.value != null)) | if has("customer_email") then .customer_email = "[REDACTED]" else . end)}'

# Beside it, the same pipeline with a three-clause filter.where: one that drops some events (the
# throughput with content filtering) and one that every event meets (same deliveries as the plain
# run, so the difference is what evaluating the where costs).
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$work/times.json" \
    -n loyali-hooks ".build/release/loyali-hooks run bench/pipeline.yaml --input $work/events.jsonl --dry-run --json > $work/out.jsonl" \
    -n where ".build/release/loyali-hooks run bench/where-pipeline.yaml --input $work/events.jsonl --dry-run --json > $work/where.jsonl" \
    -n where-all ".build/release/loyali-hooks run bench/where-all-pipeline.yaml --input $work/events.jsonl --dry-run --json > $work/where-all.jsonl" \
    -n jq "jq -c '$jq_program' $work/events.jsonl > $work/jq.jsonl" >&2

lines=$(wc -l < "$work/out.jsonl")
where_lines=$(wc -l < "$work/where.jsonl")
where_all_lines=$(wc -l < "$work/where-all.jsonl")
[ "$where_all_lines" -eq "$lines" ] || { echo "where-all delivered $where_all_lines, not $lines" >&2; exit 1; }
# Events the where is evaluated for: those the event-type filter accepts.
evaluated=$(jq -c 'select(.event_type | startswith("points.") or startswith("redemption.") or . == "tier.upgraded")' "$work/events.jsonl" | wc -l)
python3 - "$work/times.json" "$events" "$lines" "$where_lines" "$evaluated" <<'PY'
import json, sys
runs = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
events, lines, where_lines, evaluated = (int(a) for a in sys.argv[2:6])
ours, jq = runs["loyali-hooks"]["median"], runs["jq"]["median"]
where, where_all = runs["where"]["median"], runs["where-all"]["median"]
print(f"events: {events}, deliveries printed: {lines}")
print(f"loyali-hooks run --dry-run --json: {events/ours:,.0f} events/s (median {ours*1000:.0f} ms)")
print(f"jq -c filter+projection, unsigned:  {events/jq:,.0f} events/s (median {jq*1000:.0f} ms)")
print(f"ratio loyali-hooks / jq: {jq/ours:.2f}x")
print(f"with a three-clause where (bench/where-pipeline.yaml, {where_lines} deliveries): {events/where:,.0f} events/s (median {where*1000:.0f} ms)")
cost = (where_all - ours) / evaluated * 1e9
print(f"three-clause where every event meets (bench/where-all-pipeline.yaml): {events/where_all:,.0f} events/s (median {where_all*1000:.0f} ms);"
      f" cost over the plain run: {cost:,.0f} ns per evaluated event ({evaluated} evaluated; noise can make it negative)")
PY
