#!/usr/bin/env bash
# Durable-delivery benchmark: deliver N events (default 100k) to a local nginx that answers
# `return 200`, with the SQLite store on (`run --drain`), and in the same run measure, against the
# same nginx with the same number of connections (32):
#   - the baseline: bench/curl-multi-baseline.c, built here with cc and pkg-config libcurl. It is
#     libcurl's own ceiling: one thread on the multi interface, 32 reused easy handles, one
#     prebuilt header list, the body never copied, the response discarded. It POSTs N requests
#     with the same headers and body bytes as one signed delivery (taken from a dry run). It runs
#     once before and once after loyali-hooks; the ratio is to the mean of the two;
#   - wrk POSTing the same body (nginx's limit, for context);
#   - the curl command line POSTing it N/2 times with `--parallel --parallel-max 32` (libcurl with
#     the tool's per-transfer set-up, for context).
# Prints each rate and, for loyali-hooks and the baseline, CPU-seconds (user + sys) per 100k
# requests: CPU per request is stable on a busy machine, where requests/s is not.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/nginx.sh
. bench/lib/nginx.sh
events=${1:-100000}
port=${BENCH_PORT:-18189}
work=$(mktemp -d)
cleanup() { stop_nginx "$work"; rm -rf "$work"; }
trap cleanup EXIT

for tool in nginx wrk curl pkg-config; do command -v $tool >/dev/null || { echo "bench needs $tool: apt-get install -y nginx wrk curl pkg-config" >&2; exit 2; }; done
bin=${LOYALI_HOOKS_BIN:-.build/release/loyali-hooks}
[ -x "$bin" ] || swift build -c release
cc=${CC:-$(command -v cc || command -v clang)}
# shellcheck disable=SC2046 # pkg-config's flags are separate words
"$cc" -O2 -o "$work/curl-multi-baseline" bench/curl-multi-baseline.c $(pkg-config --cflags --libs libcurl)

start_nginx "$work" "$port"

python3 bench/gen-events.py "$events" > "$work/events.jsonl"
export BENCH_EVENTS="$work/events.jsonl" BENCH_SECRET=whsec_bench_secret_not_for_production BENCH_PORT=$port

# One signed delivery as loyali-hooks sends it: the baseline POSTs these exact headers and body.
head -1 "$work/events.jsonl" > "$work/first.jsonl"
BENCH_EVENTS="$work/first.jsonl" "$bin" run bench/delivery-pipeline.yaml --dry-run --json > "$work/dry.json" 2> /dev/null
python3 - "$work" <<'PY'
import json, sys
delivery = json.loads(open(sys.argv[1] + "/dry.json").readline())
open(sys.argv[1] + "/envelope.json", "w").write(delivery["body"])
open(sys.argv[1] + "/headers.txt", "w").write("".join(f"{k}: {v}\n" for k, v in delivery["headers"].items()))
PY
baseline() { "$work/curl-multi-baseline" "http://127.0.0.1:$port/hook" "$work/envelope.json" "$work/headers.txt" "$events" 32; }
baseline_before=$(baseline)

start=$(date +%s.%N)
/usr/bin/time -f "%M %U %S" -o "$work/time" "$bin" run bench/delivery-pipeline.yaml --drain --state "$work/state" 2> "$work/run.log"
end=$(date +%s.%N)
tail -1 "$work/run.log" >&2

baseline_after=$(baseline)

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

python3 - "$start" "$end" "$events" "$wrk_rps" "$(cat "$work/time")" "$curl_start" "$curl_end" "$curl_requests" \
    "$baseline_before" "$baseline_after" "$(wc -c < "$work/envelope.json")" <<'PY'
import sys
start, end, events, wrk = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
rss_kb, user, system = sys.argv[5].split()
curl = int(sys.argv[8]) / (float(sys.argv[7]) - float(sys.argv[6]))
ours = events / (end - start)
ours_cpu = (float(user) + float(system)) * 100_000 / events
runs = []
for line in sys.argv[9:11]:
    requests, wall, cpu, failed = line.split()
    runs.append((int(requests) / float(wall), float(cpu) * 100_000 / int(requests)))
base = sum(r for r, _ in runs) / len(runs)
base_cpu = sum(c for _, c in runs) / len(runs)
print(f"loyali-hooks run --drain (store on): {ours:,.0f} deliveries/s ({events} in {end-start:.2f} s), "
      f"{ours_cpu:.2f} CPU-s per 100k, peak RSS {int(rss_kb)/1024:.1f} MB")
print(f"libcurl multi baseline (C), {sys.argv[11].strip()}-byte body: {base:,.0f} requests/s, {base_cpu:.2f} CPU-s per 100k "
      f"(before: {runs[0][0]:,.0f}/s {runs[0][1]:.2f}; after: {runs[1][0]:,.0f}/s {runs[1][1]:.2f})")
print(f"wrk -t1 -c32 POST, same nginx:       {wrk:,.0f} requests/s")
print(f"curl tool --parallel-max 32:          {curl:,.0f} requests/s")
print(f"ratio loyali-hooks / libcurl baseline: {ours/base:.2f} (target >= 0.6); CPU per delivery / per request: {ours_cpu/base_cpu:.2f}x")
print(f"ratio loyali-hooks / wrk: {ours/wrk:.2f}; loyali-hooks / curl tool: {ours/curl:.2f}")
PY
