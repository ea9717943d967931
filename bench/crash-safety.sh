#!/usr/bin/env bash
# Crash-safety check: kill -9 the runner at random moments during an N-event run (default 20,000),
# restart it each time, then let it finish. Every event must reach the receiver at least once,
# every duplicate must carry the same whd_ id and a higher attempt number, and the duplicates
# must be few (requests in flight or finished but not yet recorded at each kill). Loopback only;
# every loop is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-20000}
kills=${KILLS:-5}
port=${PORT:-18299}
work=$(mktemp -d)
cleanup() { kill "$receiver" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[ -x .build/release/loyali-hooks ] || swift build -c release

python3 bench/gen-events.py "$events" > "$work/events.jsonl"
python3 bench/receiver.py "$port" whsec_crash_test "$work/received.log" &
receiver=$!
sleep 0.5
cat > "$work/pipeline.yaml" <<YAML
pipeline: crash
source: { type: file, path: "$work/events.jsonl" }
sign: { secrets: ["\${CRASH_SECRET}"] }
sinks:
  hook: { type: http, url: "http://127.0.0.1:$port/hook", max_in_flight: 16 }
YAML
export CRASH_SECRET=whsec_crash_test
for i in $(seq 1 "$kills"); do
    .build/release/loyali-hooks run "$work/pipeline.yaml" --drain --state "$work/state" 2>>"$work/run.log" &
    pid=$!
    sleep "$(python3 -c 'import random; print(round(random.uniform(0.3, 1.5), 2))')"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "kill $i: $(wc -l < "$work/received.log") requests received so far" >&2
done
timeout 300 .build/release/loyali-hooks run "$work/pipeline.yaml" --drain --state "$work/state" 2>>"$work/run.log"

python3 - "$work/received.log" "$events" <<'PY'
import collections, sys
lines = [l.split() for l in open(sys.argv[1])]
by_id = collections.Counter(l[0] for l in lines)
bad_sig = sum(1 for l in lines if l[3] != "True")
events = int(sys.argv[2])
dups = sum(c - 1 for c in by_id.values())
# A re-send after a crash carries the next attempt number: no (id, attempt) pair may repeat.
repeated = sum(c - 1 for c in collections.Counter((l[0], l[1]) for l in lines).values())
print(f"requests: {len(lines)}, distinct deliveries: {len(by_id)} of {events}, duplicates: {dups}, "
      f"repeated attempt numbers: {repeated}, bad signatures: {bad_sig}")
ok = len(by_id) == events and bad_sig == 0 and repeated == 0
print("OK: every event delivered at least once" if ok else "FAILED: deliveries missing or attempt numbers repeated")
sys.exit(0 if ok else 1)
PY
