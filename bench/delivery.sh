#!/usr/bin/env bash
# Durable-delivery benchmark: deliver N events (default 100k) to a local nginx that answers
# `return 200`, with the SQLite store on (`run --drain`), and in the same run measure, against the
# same nginx with the same number of connections (32):
#   - wrk POSTing the same body (the issue's baseline);
#   - the curl command line POSTing it N/2 times with `--parallel --parallel-max 32`: libcurl's
#     multi interface with no store, no signing and no retries, i.e. the ceiling of the HTTP
#     library the sink is built on.
# Prints the three rates and the ratios, plus peak RSS of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-100000}
port=${BENCH_PORT:-18189}
work=$(mktemp -d)
cleanup() { [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

for tool in nginx wrk curl; do command -v $tool >/dev/null || { echo "bench needs $tool: apt-get install -y nginx wrk" >&2; exit 2; }; done
[ -x .build/release/loyali-hooks ] || swift build -c release

cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/body;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "ok"; }
    }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.3

python3 bench/gen-events.py "$events" > "$work/events.jsonl"
export BENCH_EVENTS="$work/events.jsonl" BENCH_SECRET=whsec_bench_secret_not_for_production BENCH_PORT=$port

start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/rss" .build/release/loyali-hooks run bench/delivery-pipeline.yaml --drain --state "$work/state" 2> "$work/run.log"
end=$(date +%s.%N)
tail -1 "$work/run.log" >&2

body=$(head -1 "$work/events.jsonl" | sed 's/"/\\"/g')
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/json"
LUA
wrk -t1 -c32 -d5s -s "$work/post.lua" "http://127.0.0.1:$port/hook" > "$work/wrk.txt"
wrk_rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")

# The same body from the curl tool: one config line per request, all sharing the -d body.
curl_requests=$((events / 2))
head -1 "$work/events.jsonl" > "$work/body.json"
python3 -c "import sys; sys.stdout.write('url = \"http://127.0.0.1:$port/hook\"\n' * $curl_requests)" > "$work/curl.cfg"
curl_start=$(date +%s.%N)
curl -sS --no-progress-meter --fail --parallel --parallel-max 32 --parallel-immediate -K "$work/curl.cfg" --data-binary @"$work/body.json" \
    -H "Content-Type: application/json" > /dev/null 2> "$work/curl.err" || { cat "$work/curl.err" >&2; exit 1; }
curl_end=$(date +%s.%N)

python3 - "$start" "$end" "$events" "$wrk_rps" "$(cat "$work/rss")" "$curl_start" "$curl_end" "$curl_requests" <<'PY'
import sys
start, end, events, wrk, rss = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
curl = int(sys.argv[8]) / (float(sys.argv[7]) - float(sys.argv[6]))
ours = events / (end - start)
print(f"loyali-hooks run --drain (store on): {ours:,.0f} deliveries/s ({events} in {end-start:.2f} s), peak RSS {rss/1024:.1f} MB")
print(f"wrk -t1 -c32 POST, same nginx:       {wrk:,.0f} requests/s")
print(f"curl --parallel-max 32, same nginx:   {curl:,.0f} requests/s (libcurl alone)")
print(f"ratio loyali-hooks / wrk: {ours/wrk:.2f}; loyali-hooks / curl: {ours/curl:.2f}")
PY
