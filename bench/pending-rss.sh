#!/usr/bin/env bash
# Memory with a large backlog: ingest N events (default 1,000,000) into the store with the first
# attempt due in an hour, so all of them stay pending, and report the run's peak RSS; then check
# that the pending rows are visible to `deliveries`.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x .build/release/loyali-hooks ] || swift build -c release
python3 bench/gen-events.py "$events" > "$work/events.jsonl"
cat > "$work/pending.yaml" <<YAML
pipeline: backlog
source: { type: file, path: "$work/events.jsonl" }
sign: { secrets: ["\${BENCH_SECRET}"] }
sinks:
  later: { type: http, url: "http://127.0.0.1:9/closed", retry: { schedule: [1h, 1h] } }
YAML
export BENCH_SECRET=whsec_bench_secret_not_for_production
/usr/bin/time -f "%M %e" -o "$work/ingest.time" .build/release/loyali-hooks run "$work/pending.yaml" --once --state "$work/state" 2>/dev/null || true
read -r rss secs < "$work/ingest.time"
echo "ingest of $events events into the store: peak RSS $((rss / 1024)) MB, $secs s"
pending=$(.build/release/loyali-hooks deliveries --state "$work/state" --status pending --limit 1 --json | wc -l)
echo "pending rows visible: $pending (limit 1)"
