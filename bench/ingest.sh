#!/usr/bin/env bash
# HTTP ingest benchmark: wrk POSTs single events (application/json, unique ids, bearer token) over
# keep-alive to `loyali-hooks serve`'s ingest endpoint with the SQLite store on; every 202 means
# the event's delivery is committed (group commit). In the same run, wrk POSTs the same body to a
# static nginx (`return 202` with a fixed body) on the same machine with the same connections.
# Afterwards the store is opened and every delivery counted, so "accepted" = "durable" is checked,
# not assumed.
#
# Two serve configurations are measured:
#   queued     the sink's first attempt is scheduled 10 minutes out: pure ingest, deliveries
#              durable and pending (what "accepted and made durable" asks for);
#   delivering a file sink that is written at once: the runner claims, writes and records every
#              delivery while ingest goes on, on the same cores.
#
#   bash bench/ingest.sh [SECONDS] [CONNECTIONS]      (defaults: 10 s, 64 connections; loopback)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/nginx.sh
. bench/lib/nginx.sh
seconds=${1:-10}
connections=${2:-64}
ingest_port=${BENCH_INGEST_PORT:-18790}
admin_port=${BENCH_ADMIN_PORT:-18791}
nginx_port=${BENCH_NGINX_PORT:-18792}
work=$(mktemp -d)
serve_pid=""
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    stop_nginx "$work"
    rm -rf "$work"
}
trap cleanup EXIT

for tool in nginx wrk python3; do
    command -v $tool >/dev/null || { echo "bench needs $tool: apt-get install -y nginx wrk python3" >&2; exit 2; }
done
[ -x .build/release/loyali-hooks ] || swift build -c release

# One event per request, each with a fresh id so every request makes a new delivery.
cat > "$work/post.lua" <<'LUA'
-- Each wrk thread numbers its own events; the thread number and the start time keep ids unique
-- across threads and runs.
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end
function init(args)
    prefix = "evt_" .. os.time() .. "_" .. tostring(wrk.thread:get("tid")) .. "_"
    counter = 0
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-ingest-token"
function request()
    counter = counter + 1
    local body = '{"id":"' .. prefix .. counter .. '","event_type":"points.earned","created_at":"2024-01-20T14:30:00Z",'
        .. '"data":{"customer_id":"cust_abc123","customer_email":"jane@example.com","points":150,"new_balance":2350}}'
    return wrk.format(nil, nil, nil, body)
end
LUA

start_nginx "$work" "$nginx_port" "default_type application/json; return 202 '{\"accepted\":[],\"rejected\":[]}';"

run_serve() {  # $1 = name, $2 = sink YAML
    local name=$1 state="$work/state-$1"
    cat > "$work/$name.yaml" <<YAML
pipeline: ingest-bench
source: { type: http, listen: "127.0.0.1:$ingest_port", path: /events, token: "\${BENCH_INGEST_TOKEN}" }
sinks:
  audit: $2
YAML
    BENCH_INGEST_TOKEN=bench-ingest-token .build/release/loyali-hooks serve "$work/$name.yaml" --state "$state" \
        --admin "127.0.0.1:$admin_port" --no-watch --max-connections 2048 2> "$work/serve-$name.log" &
    serve_pid=$!
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null && break; sleep 0.1; done
    wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$work/post.lua" "http://127.0.0.1:$ingest_port/events" > "$work/wrk-$name.txt"
    curl -sf "http://127.0.0.1:$admin_port/metrics" > "$work/metrics-$name.txt"
    kill -TERM "$serve_pid"; wait "$serve_pid" || true; serve_pid=""
    python3 - "$name" "$work/wrk-$name.txt" "$work/metrics-$name.txt" "$state/loyali-hooks.db" "$seconds" <<'PY'
import re, sqlite3, sys
name, wrk_path, metrics_path, db, seconds = sys.argv[1:6]
wrk = open(wrk_path).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
p99 = re.search(r"99%\s+(\S+)", wrk).group(1)
metrics = open(metrics_path).read()
def metric(pattern):
    m = re.search(pattern, metrics, re.M)
    return float(m.group(1)) if m else 0.0
accepted = metric(r'^loyali_hooks_ingest_responses_total\{code="202"\} (\S+)')
commits = metric(r"^loyali_hooks_ingest_commits_total (\S+)")
stored = sqlite3.connect(db).execute("select count(*) from deliveries").fetchone()[0]
print(f"serve ({name}): {rps:,.0f} requests/s over {seconds} s, p99 {p99}; "
      f"{accepted:,.0f} answered 202, {stored:,} deliveries in the store "
      f"({'all durable' if stored >= accepted else 'MISSING ' + str(accepted - stored)}); "
      f"{accepted / max(commits, 1):.1f} events per group commit"
      + (f"; {non2xx.group(1)} non-2xx" if non2xx else ""))
PY
}

run_serve queued '{ type: file, path: "'"$work"'/queued.jsonl", retry: { schedule: [10m] } }'
run_serve delivering '{ type: file, path: "'"$work"'/delivered.jsonl" }'

wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$work/post.lua" "http://127.0.0.1:$nginx_port/events" > "$work/wrk-nginx.txt"
python3 - "$work/wrk-nginx.txt" <<'PY'
import re, sys
wrk = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
p99 = re.search(r"99%\s+(\S+)", wrk).group(1)
print(f"nginx static (return 202), same wrk: {rps:,.0f} requests/s, p99 {p99}")
PY
echo "machine: $(nproc) cores; wrk -t2 -c$connections; everything on loopback, sharing those cores"
