#!/usr/bin/env bash
# Rate-limit benchmark (issue 14 item 5): `run --drain` sends COUNT deliveries (default 600) to a
# loopback receiver through one http sink with `rate_limit: RATE/s` (default 50) and
# max_in_flight 64, so without the limit they would all go at once. The receiver keeps every
# arrival time; the script prints the most and the fewest arrivals in any sliding second (windows
# that start at an arrival and end before the last one), against the limit and its +/-10% target,
# and the mean rate over the whole run.
#   bash bench/rate-limit.sh [RATE] [COUNT] [BURST]     (LOYALI_HOOKS_BIN=path to use another build)
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-50}
count=${2:-600}
burst=${3:-}
work=$(mktemp -d)
receiver_pid=
cleanup() { [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
bin=${LOYALI_HOOKS_BIN:-.build/release/loyali-hooks}
[ -x "$bin" ] || swift build -c release

python3 bench/arrivals-receiver.py "$work/arrivals.json" > "$work/port" &
receiver_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(head -1 "$work/port")

python3 - "$count" > "$work/events.jsonl" <<'PY'
import json, sys
for seq in range(int(sys.argv[1])):
    print(json.dumps({"id": f"evt_rate_{seq}", "event_type": "points.earned", "created_at": "2024-01-20T14:30:00Z",
                      "data": {"customer_id": f"cust_{seq % 100}", "seq": seq, "amount": 150}}))
PY
limit="$rate/s"
[ -n "$burst" ] && limit="{ rate: $rate/s, burst: $burst }"
cat > "$work/pipeline.yaml" <<YAML
pipeline: rate-bench
source: { type: file, path: "$work/events.jsonl" }
sign: { secrets: ["\${BENCH_SECRET}"] }
sinks:
  paced: { type: http, url: "http://127.0.0.1:$port/hook", max_in_flight: 64, rate_limit: $limit }
YAML
BENCH_SECRET=whsec_bench_secret_not_for_production "$bin" run "$work/pipeline.yaml" --drain --state "$work/state" 2> "$work/run.log" || { cat "$work/run.log" >&2; exit 1; }
kill "$receiver_pid"
wait "$receiver_pid" 2>/dev/null || true
receiver_pid=

python3 - "$work/arrivals.json" "$rate" "$count" <<'PY'
import json, sys
times = sorted(a[0] for a in json.load(open(sys.argv[1])))
rate, count = float(sys.argv[2]), int(sys.argv[3])
assert len(times) == count, f"{len(times)} arrivals, expected {count}"
most, fewest, j, k = 0, None, 0, 0
for i, start in enumerate(times):
    while j < len(times) and times[j] < start + 1.0:
        j += 1
    most = max(most, j - i)
    if start + 1.0 <= times[-1]:
        fewest = j - i if fewest is None else min(fewest, j - i)
span = times[-1] - times[0]
print(f"rate_limit {rate:g}/s, {count} deliveries over {span:.2f} s (mean {(count - 1) / span:.1f}/s)")
print(f"most in any 1 s window:   {most} ({most / rate:.3f} of the limit; target <= 1.10)")
if fewest is not None:
    print(f"fewest in any 1 s window: {fewest} ({fewest / rate:.3f} of the limit; target >= 0.90)")
PY
