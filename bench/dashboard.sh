#!/usr/bin/env bash
# Dashboard on a big store: fills a state store with N deliveries (default 1,000,000) spread over
# 7 days (bench/dashboard-fill.py), starts `loyali-hooks serve` on it (release build), and times the
# admin API calls the pages make, each the median of 5 runs after one warm-up, over loopback:
#
#   overview   GET /api/stats?since=W + GET /api/timeseries?window=W (what the Overview polls),
#              for W = 1h, 24h (the default) and 7d; target < 300 ms
#   log        GET /api/deliveries for every combination of the Delivery log's filters (status,
#              pipeline, sink, event type, window, id search) and deep keyset pages
#              (bench/dashboard-log.py); target < 100 ms
#
# It also times the migration that fills the maintained aggregates from the million rows, and
# prints the load average before and after (the box may be shared).
#
#   bash bench/dashboard.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
admin_port=${BENCH_ADMIN_PORT:-18795}
token=bench-dashboard-token
work=$(mktemp -d)
serve_pid=""
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
for tool in curl python3; do command -v $tool >/dev/null || { echo "bench needs $tool" >&2; exit 2; }; done
[ -x .build/release/loyali-hooks ] || swift build -c release
bin=.build/release/loyali-hooks

mkdir -p "$work/pipelines"
cat > "$work/pipelines/idle.yaml" <<'YAML'
pipeline: idle
source: { type: file, path: /dev/null }
sinks:
  out: { type: file, path: /dev/null }
YAML
# BENCH_DASHBOARD_STORE=DIR keeps the filled and migrated store in DIR and reuses it on the next
# run (the figures then come from rows up to that many hours old, which the windows still see in
# part; the fill and the backfill are timed only when DIR is made).
saved=${BENCH_DASHBOARD_STORE:-}
if [ -n "$saved" ] && [ -f "$saved/loyali-hooks.db" ]; then
    mkdir -p "$work/state" && cp "$saved"/loyali-hooks.db* "$work/state/"
    start=$(date +%s.%N)
    "$bin" run "$work/pipelines" --state "$work/state" --drain >/dev/null
    echo "reused $saved; opening (and any newer migration): $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s"
else
    # Let the binary create and migrate the store, then fill it behind its back (at schema 6, see
    # the fill script), then let the binary migrate it again: migration 7 fills the rollups from
    # the rows.
    "$bin" run "$work/pipelines" --state "$work/state" --drain >/dev/null 2>&1
    now_ms=$(python3 -c 'import time; print(int(time.time() * 1000))')
    start=$(date +%s.%N)
    python3 bench/dashboard-fill.py "$work/state" "$count" "$now_ms"
    echo "fill: $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s, store $(du -sh "$work/state" | cut -f1)"
    start=$(date +%s.%N)
    "$bin" run "$work/pipelines" --state "$work/state" --drain >/dev/null
    echo "migration to the rollups and later indexes (on $count deliveries): $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s"
    if [ -n "$saved" ]; then mkdir -p "$saved" && cp "$work/state"/loyali-hooks.db* "$saved/"; fi
fi

LOYALI_HOOKS_ADMIN_TOKEN=$token "$bin" serve "$work/pipelines" --state "$work/state" --admin "127.0.0.1:$admin_port" --no-watch \
    2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null && break; sleep 0.1; done

# The median wall time of 5 calls (after a warm-up) of each URL in "$@", summed: the page makes them together.
time_ms() {
    python3 - "$admin_port" "$token" "$@" <<'PY'
import http.client, statistics, sys, time
port, token, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def call(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse(); body = r.read(); c.close()
    assert r.status == 200, (path, r.status, body[:200])
    return body
total = 0.0
for path in paths:
    call(path)
    runs = []
    for _ in range(5):
        t = time.perf_counter(); call(path); runs.append((time.perf_counter() - t) * 1000)
    total += statistics.median(runs)
print(f"{total:.1f}")
PY
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-58s %10s\n' "request (median of 5)" "ms"
for window in 1h 24h 7d; do
    printf '%-58s %10s\n' "overview $window (stats + timeseries)" "$(time_ms "/api/stats?since=$window" "/api/timeseries?window=$window")"
    printf '%-58s %10s\n' "  /api/stats?since=$window" "$(time_ms "/api/stats?since=$window")"
    printf '%-58s %10s\n' "  /api/timeseries?window=$window" "$(time_ms "/api/timeseries?window=$window")"
done
python3 bench/dashboard-log.py "$admin_port" "$token"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
