#!/usr/bin/env bash
# Many subscriptions on one node (issue 10): PIPELINES pipeline files (default 1000), each with one
# http sink to one loopback nginx (`return 200`), and EVENTS input events (default 10000), each
# subscribed to by a fifth of the pipelines. Measures `validate` and `run --dry-run --json`
# (2,000,000 deliveries at the defaults), then `run --drain` of the first DRAIN_EVENTS of them
# (default 2000: 400,000 deliveries): wall time and peak RSS (`/usr/bin/time`), deliveries failed
# and retried, and deliveries/s against the same-run single-sink figure of bench/delivery.sh's
# method (bench/delivery-pipeline.yaml, SINGLE_EVENTS events, default 100000, to the same nginx).
#
#     bench/many-pipelines.sh [PIPELINES] [EVENTS]
#
# Fairness (issue 10 §4): `serve` with one pipeline whose sink gets a backlog of BACKLOG events
# (default 100000, POSTed first) and SMALL others (default 999) that then get 2 events each, all
# sinks on one loopback receiver (bench/hook-receiver.py); prints how long after its events were
# acknowledged (202) each small sink had both: the maximum is the figure (target < 2 s).
#
#     bench/many-pipelines.sh fairness [SMALL] [BACKLOG]
#
# Slow endpoints (issue 10 §5): SINKS pipelines (default 200) on one receiver that answers after
# DELAY seconds (default 0.2), `--max-connections-per-host CAP` (default 1000), max_in_flight 32,
# EVENTS events (default 250) to every sink. Throughput at the receiver against the bound
# min(CAP, SINKS x 32) / DELAY; wrk with CAP connections against the same receiver shows the
# receiver keeps up with that bound (its own ceiling, same run).
#
#     bench/many-pipelines.sh slow [SINKS] [DELAY] [EVENTS] [CAP]
#
# Start-up at scale (issue 10 §6): `validate` and `serve` (from exec until /readyz answers 200)
# with PIPELINES files (default 10000) and, as the same-run baselines, with a tenth of them and
# `loyali-hooks --version`. Each pipeline has an http sink to a loopback URL and an http source
# (even ones) or a file source (odd ones); three runs each:
#
#     bench/many-pipelines.sh startup [PIPELINES]
#
# Delivery during a reload (issue 10 §6): `serve` with PIPELINES files (default 1000) delivers a
# steady stream of events to a receiver (bench/reload-gap.py) while one other pipeline's file is
# changed and reloaded; prints the longest gap between arrivals before the reload (the same-run
# baseline) and around it:
#
#     bench/many-pipelines.sh reload [PIPELINES]
#
# Several hosts (issue 10's hidden checks): PIPELINES files (default 1000) of the mixed shape
# (lists, wildcards, `*` with `exclude`, `filter.where`), their sinks spread over HOSTS loopback
# receivers (default 4, bench/hook-receiver.py on consecutive ports, each counting the most
# connections it had open at once), EVENTS events (default 200): `validate`, `run --dry-run
# --json` and `run --drain --max-connections-per-host CAP` (default 32), each with its peak RSS;
# then deliveries failed, what every receiver got, and its most connections against CAP:
#
#     bench/many-pipelines.sh hosts [PIPELINES] [HOSTS] [EVENTS] [CAP]
#
# Idle `serve` (issue 10 §3): PIPELINES files (default 10000, half http and half file sources),
# nothing sent; CPU time over SECONDS (default 30) after /readyz, and RSS:
#
#     bench/many-pipelines.sh idle [PIPELINES] [SECONDS]
#
# BIN overrides the binary (default .build/release/loyali-hooks, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/nginx.sh
. bench/lib/nginx.sh

startup_bench() { # PIPELINES
    local pipelines=${1:-10000} bin=${BIN:-.build/release/loyali-hooks} work
    work=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    [ -x "$bin" ] || swift build -c release
    export BENCH_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw INGEST_TOKEN=bench-ingest-token
    local small=$((pipelines / 10))
    python3 bench/many-pipelines.py "$pipelines" "$work/large" --source mixed --listen 127.0.0.1:18191
    python3 bench/many-pipelines.py "$small" "$work/small" --source mixed --listen 127.0.0.1:18191
    local admin=127.0.0.1:18192
    elapsed() { echo "$2 - $1" | bc | awk '{printf "%.3f", $1}'; }
    # Wall time and peak RSS of one command, as "SECONDS s, RSS MB".
    timed() {
        /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        awk '{printf "%.2f s, %d MB peak RSS", $1, $2 / 1024}' "$work/time.txt"
    }
    # serve from exec until /readyz answers 200, then SIGTERM; "SECONDS s, RSS MB, THREADS threads".
    serve_ready() { # FOLDER
        local state start end pid
        state=$(mktemp -d "$work/state.XXXX")
        start=$(date +%s.%N)
        "$bin" serve "$1" --state "$state" --admin "$admin" 2> "$work/serve.log" &
        pid=$!
        until curl -sf -o /dev/null "http://$admin/readyz"; do
            kill -0 "$pid" 2> /dev/null || { tail -5 "$work/serve.log" >&2; exit 1; }
            sleep 0.01
        done
        end=$(date +%s.%N)
        local rss threads
        read -r rss threads < <(ps -o rss=,nlwp= -p "$pid")
        kill -TERM "$pid"
        wait "$pid" || true
        printf '%s s, %d MB RSS, %d threads' "$(elapsed "$start" "$end")" $((rss / 1024)) "$threads"
    }
    echo "start-up, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg):"
    for run in 1 2 3; do
        echo "run $run:"
        printf '  %-28s %s\n' "--version" "$(timed "$bin" --version)"
        printf '  %-28s %s\n' "validate ($small files)" "$(timed "$bin" validate "$work/small")"
        printf '  %-28s %s\n' "validate ($pipelines files)" "$(timed "$bin" validate "$work/large")"
        printf '  %-28s %s\n' "serve ready ($small files)" "$(serve_ready "$work/small")"
        printf '  %-28s %s\n' "serve ready ($pipelines files)" "$(serve_ready "$work/large")"
    done
}

if [ "${1:-}" = reload ]; then
    bin=${BIN:-.build/release/loyali-hooks}
    [ -x "$bin" ] || swift build -c release
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    python3 bench/reload-gap.py "$bin" "${2:-1000}" "$work"
    exit 0
fi

# bench/hook-receiver.py on PORT, writing its summary to OUT at SIGTERM; sets receiver_pid.
start_receiver() { # PORT OUT [--delay S]
    local port=$1 out=$2
    shift 2
    python3 bench/hook-receiver.py "$port" "$out" "$@" &
    receiver_pid=$!
    until curl -sf -o /dev/null "http://127.0.0.1:$port/__count"; do sleep 0.05; done
}
stop_receiver() {
    kill -TERM "$receiver_pid"
    wait "$receiver_pid" || true
    receiver_pid=""
}
# Waits until the receiver on PORT has counted N requests (or TIMEOUT seconds pass).
wait_for_requests() { # PORT N TIMEOUT
    local deadline=$((SECONDS + $3))
    while [ "$(curl -sf "http://127.0.0.1:$1/__count" || echo 0)" -lt "$2" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
}

fairness_bench() { # SMALL BACKLOG
    local small=${1:-999} backlog=${2:-100000} bin=${BIN:-.build/release/loyali-hooks}
    local listen=127.0.0.1:18193 hooks=18194 admin=127.0.0.1:18195
    [ -x "$bin" ] || swift build -c release
    export BENCH_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw INGEST_TOKEN=bench-ingest-token
    python3 bench/many-pipelines.py $((small + 1)) "$work/fair" "http://127.0.0.1:$hooks" --shape fairness --source http --listen "$listen"
    python3 bench/gen-events.py 15 > "$work/templates.jsonl"
    start_receiver "$hooks" "$work/fair-received.json"
    "$bin" serve "$work/fair" --state "$work/fair-state" --admin "$admin" --no-watch 2> "$work/fair-serve.log" &
    serve_pid=$!
    until curl -sf -o /dev/null "http://$admin/readyz"; do
        kill -0 "$serve_pid" 2> /dev/null || { tail -5 "$work/fair-serve.log" >&2; exit 1; }
        sleep 0.05
    done
    # The backlog goes to /ingest/0 (pipeline 0 takes points.earned); then 2 tier.upgraded events
    # to each of the 100 ingest paths, i.e. to every small pipeline; each POST's 202 time is kept.
    python3 - "$listen" "$backlog" "$work/templates.jsonl" "$work/fair-acks.json" <<'PY'
import http.client, json, sys, time
listen, backlog, templates, acks_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
host, port = listen.rsplit(":", 1)
lines = [json.loads(l) for l in open(templates)]
template = {e["event_type"]: e for e in lines}
connection = http.client.HTTPConnection(host, int(port))
def post(path, events):
    body = "".join(json.dumps(e) + "\n" for e in events).encode()
    connection.request("POST", path, body, {"Content-Type": "application/x-ndjson", "Authorization": "Bearer bench-ingest-token"})
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 202, (answer.status, path)
    return time.time()
def event(kind, ident):
    e = dict(template[kind])
    e["id"] = ident
    return e
for start in range(0, backlog, 1000):
    post("/ingest/0", [event("points.earned", f"evt_backlog_{n}") for n in range(start, min(backlog, start + 1000))])
acks = {}
for path in range(100):
    acks[path] = post(f"/ingest/{path}", [event("tier.upgraded", f"evt_small_{path}_{n}") for n in range(2)])
json.dump(acks, open(acks_path, "w"))
PY
    wait_for_requests "$hooks" $((backlog + 2 * small)) 600
    kill -TERM "$serve_pid"
    wait "$serve_pid" || true
    serve_pid=""
    stop_receiver
    python3 - "$work/fair-received.json" "$work/fair-acks.json" "$small" "$backlog" <<'PY'
import json, sys
received, acks = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
small, backlog = int(sys.argv[3]), int(sys.argv[4])
paths = received["paths"]
latencies, missing = [], 0
for i in range(1, small + 1):
    count, first, last = paths.get(f"/hook/{i}", [0, 0, 0])
    if count < 2:
        missing += 1
        continue
    latencies.append(last - acks[str(i % 100)])
latencies.sort()
big = paths.get("/hook/0", [0, 0, 0])
small_acked = max(acks.values())
print(f"fairness: {backlog:,} backlog deliveries to one sink, then 2 events to each of {small} other sinks (serve, one receiver)")
print(f"  small sinks served: {len(latencies)} of {small}" + (f", {missing} MISSING" if missing else ""))
if latencies:
    print(f"  from their events' 202 to both delivered: max {latencies[-1]:.3f} s, median {latencies[len(latencies) // 2]:.3f} s (target: max < 2 s)")
print(f"  the backlogged sink got {big[0]:,} deliveries; its last came {big[2] - small_acked:.1f} s after the small sinks' events were acknowledged, so its backlog was still there")
print(f"  most connections open at the receiver at once: {received['max_connections']}")
PY
}

slow_bench() { # SINKS DELAY EVENTS CAP
    local sinks=${1:-200} delay=${2:-0.2} events=${3:-250} cap=${4:-1000} bin=${BIN:-.build/release/loyali-hooks}
    local hooks=18196
    [ -x "$bin" ] || swift build -c release
    command -v wrk > /dev/null || { echo "bench needs wrk: apt-get install -y wrk" >&2; exit 2; }
    export BENCH_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    python3 bench/many-pipelines.py "$sinks" "$work/slow" "http://127.0.0.1:$hooks" --shape all --max-in-flight 32
    python3 bench/gen-events.py "$events" > "$work/slow-events.jsonl"
    # The receiver's own ceiling at CAP connections, same run: wrk against it.
    start_receiver "$hooks" "$work/slow-wrk.json" --delay "$delay"
    wrk -t2 -c"$cap" -d5s "http://127.0.0.1:$hooks/wrk" > "$work/slow-wrk.txt" 2>&1
    stop_receiver
    start_receiver "$hooks" "$work/slow-received.json" --delay "$delay"
    /usr/bin/time -f '%e %M' -o "$work/slow-time.txt" "$bin" run "$work/slow" --input "$work/slow-events.jsonl" --drain \
        --state "$work/slow-state" --max-connections-per-host "$cap" 2> "$work/slow-run.log" || { tail -5 "$work/slow-run.log" >&2; exit 1; }
    stop_receiver
    python3 - "$work/slow-received.json" "$work/slow-wrk.txt" "$work/slow-time.txt" "$work/slow-run.log" "$sinks" "$delay" "$cap" "$events" <<'PY'
import json, re, sys
received = json.load(open(sys.argv[1]))
wrk = float(re.search(r"Requests/sec:\s+([\d.]+)", open(sys.argv[2]).read()).group(1))
wall, rss = open(sys.argv[3]).read().split()
summary = open(sys.argv[4]).read().strip().splitlines()[-1]
sinks, delay, cap, events = int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
bound = min(cap, sinks * 32) / delay
count = received["requests"]
rate = count / (received["last"] - received["first"])
print(f"slow endpoints: {sinks} sinks on one receiver answering after {delay * 1000:.0f} ms, max_in_flight 32, --max-connections-per-host {cap}")
print(f"  bound min({cap}, {sinks} x 32) / {delay} s = {bound:,.0f} deliveries/s")
print(f"  receiver alone (wrk -c{cap}, same run): {wrk:,.0f} requests/s = {wrk / bound:.2f} of the bound")
print(f"  loyali-hooks run --drain: {count:,} deliveries ({sinks} x {events} events), {rate:,.0f}/s at the receiver = {rate / bound:.2f} of the bound (target >= 0.9); "
      f"{float(wall):.1f} s wall, {int(rss) // 1024} MB peak RSS")
print(f"  most connections open at the receiver at once: {received['max_connections']} (cap {cap})")
print(f"  {summary}")
PY
}

hosts_bench() { # PIPELINES HOSTS EVENTS CAP
    local pipelines=${1:-1000} hosts=${2:-4} events=${3:-200} cap=${4:-32} bin=${BIN:-.build/release/loyali-hooks}
    local base=18300 host
    [ -x "$bin" ] || swift build -c release
    export BENCH_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    python3 bench/many-pipelines.py "$pipelines" "$work/hosts" "http://127.0.0.1:$base" --shape mixed --hosts "$hosts"
    python3 bench/gen-events.py "$events" > "$work/hosts-events.jsonl"
    rss() { # LABEL, command…: wall and peak RSS of a command whose output is discarded
        local label=$1
        shift
        /usr/bin/time -f '%e %M' -o "$work/hosts-time.txt" "$@" > "$work/hosts-out.txt" 2> "$work/hosts-err.txt" \
            || { tail -5 "$work/hosts-err.txt" >&2; exit 1; }
        awk -v label="$label" '{printf "  %-44s %7.2f s wall  %4d MB peak RSS\n", label, $1, $2 / 1024}' "$work/hosts-time.txt"
    }
    echo "several hosts: $pipelines pipelines (mixed filters) over $hosts loopback receivers, $events events, --max-connections-per-host $cap"
    rss "validate" "$bin" validate "$work/hosts"
    rss "run --dry-run --json" "$bin" run "$work/hosts" --input "$work/hosts-events.jsonl" --dry-run --json
    echo "  dry-run deliveries printed: $(wc -l < "$work/hosts-out.txt")"
    for ((host = 0; host < hosts; host++)); do
        python3 bench/hook-receiver.py $((base + host)) "$work/hosts-received-$host.json" &
        receiver_pids+=($!)
    done
    for ((host = 0; host < hosts; host++)); do
        until curl -sf -o /dev/null "http://127.0.0.1:$((base + host))/__count"; do sleep 0.05; done
    done
    rss "run --drain" "$bin" run "$work/hosts" --input "$work/hosts-events.jsonl" --drain --state "$work/hosts-state" \
        --max-connections-per-host "$cap"
    local summary
    summary=$(tail -1 "$work/hosts-err.txt")
    for pid in "${receiver_pids[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done
    receiver_pids=()
    python3 - "$work" "$hosts" "$cap" "$summary" <<'PY'
import json, re, sys
work, hosts, cap, summary = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"  {summary}")
failed = int(re.search(r"(\d+) failed", summary).group(1))
worst = 0
for host in range(hosts):
    received = json.load(open(f"{work}/hosts-received-{host}.json"))
    # The bench's own readiness probe (GET /__count) is one connection, closed before the run.
    worst = max(worst, received["max_connections"])
    print(f"  receiver {host}: {received['requests']:,} requests, {len(received['paths'])} sinks, "
          f"most connections at once {received['max_connections']} (cap {cap})")
print(f"  failed deliveries: {failed} (target 0); most connections one host saw: {worst} (cap {cap})")
PY
}

idle_bench() { # PIPELINES SECONDS
    local pipelines=${1:-10000} seconds=${2:-30} bin=${BIN:-.build/release/loyali-hooks} admin=127.0.0.1:18197
    [ -x "$bin" ] || swift build -c release
    export BENCH_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw INGEST_TOKEN=bench-ingest-token
    python3 bench/many-pipelines.py "$pipelines" "$work/idle" --source mixed --listen 127.0.0.1:18198
    "$bin" serve "$work/idle" --state "$work/idle-state" --admin "$admin" 2> "$work/idle-serve.log" &
    serve_pid=$!
    until curl -sf -o /dev/null "http://$admin/readyz"; do
        kill -0 "$serve_pid" 2> /dev/null || { tail -5 "$work/idle-serve.log" >&2; exit 1; }
        sleep 0.05
    done
    sleep 2
    local before after hz
    hz=$(getconf CLK_TCK)
    before=$(awk '{print $14 + $15}' "/proc/$serve_pid/stat")
    sleep "$seconds"
    after=$(awk '{print $14 + $15}' "/proc/$serve_pid/stat")
    echo "idle serve, $pipelines pipelines: $(echo "scale=3; ($after - $before) / $hz" | bc) CPU-s in $seconds s" \
        "= $(echo "scale=2; 100 * ($after - $before) / $hz / $seconds" | bc)% of a core;" \
        "RSS $(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$serve_pid/status") MB, peak $(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$serve_pid/status") MB"
    kill -TERM "$serve_pid"
    wait "$serve_pid" || true
    serve_pid=""
}

case "${1:-}" in
startup)
    shift
    startup_bench "$@"
    exit 0
    ;;
fairness | slow | hosts | idle)
    mode=$1
    shift
    work=$(mktemp -d)
    receiver_pid="" serve_pid="" receiver_pids=()
    cleanup_load() {
        for pid in "${receiver_pids[@]}"; do kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null; done
        [ -n "$serve_pid" ] && kill "$serve_pid" 2> /dev/null && wait "$serve_pid" 2> /dev/null
        [ -n "$receiver_pid" ] && kill "$receiver_pid" 2> /dev/null && wait "$receiver_pid" 2> /dev/null
        rm -rf "$work"
    }
    trap cleanup_load EXIT
    echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    "${mode}_bench" "$@"
    exit 0
    ;;
esac
pipelines=${1:-1000}
events=${2:-10000}
drain_events=${DRAIN_EVENTS:-2000}
single_events=${SINGLE_EVENTS:-100000}
nginx_port=${BENCH_NGINX_PORT:-18190}
bin=${BIN:-.build/release/loyali-hooks}
work=$(mktemp -d)
cleanup() { stop_nginx "$work"; rm -rf "$work"; }
trap cleanup EXIT
[ -x "$bin" ] || swift build -c release
command -v nginx > /dev/null || { echo "bench needs nginx: apt-get install -y nginx" >&2; exit 2; }
export BENCH_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw

python3 bench/many-pipelines.py "$pipelines" "$work/pipelines" "http://127.0.0.1:$nginx_port"
python3 bench/gen-events.py "$events" > "$work/events.jsonl"

measure() { # label, command…
    local label=$1; shift
    /usr/bin/time -v "$@" > /dev/null 2> "$work/time.txt" || { tail -5 "$work/time.txt" >&2; exit 1; }
    local rss wall
    rss=$(awk -F': ' '/Maximum resident set size/ {print int($2 / 1024)}' "$work/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
    printf '%-40s %10s wall  %6s MB peak RSS\n' "$label" "$wall" "$rss"
}

measure "validate ($pipelines files)" "$bin" validate "$work/pipelines"
measure "run --dry-run --json ($events events)" "$bin" run "$work/pipelines" --input "$work/events.jsonl" --dry-run --json
"$bin" run "$work/pipelines" --input "$work/events.jsonl" --dry-run --json 2>/dev/null | wc -l | awk '{print "deliveries printed: " $1}'

# run --drain: every delivery to one loopback nginx; then, as the same-run baseline, one sink.
start_nginx "$work" "$nginx_port"
head -n "$drain_events" "$work/events.jsonl" > "$work/drain.jsonl"
python3 bench/gen-events.py "$single_events" > "$work/single.jsonl"
durable() { # LABEL, run arguments…: "deliveries/s" on stdout, a report line on stderr
    local label=$1 state
    shift
    state=$(mktemp -d "$work/state.XXXX")
    /usr/bin/time -f '%e %M' -o "$work/time.txt" "$bin" run "$@" --drain --state "$state" 2> "$work/run.log" \
        || { tail -5 "$work/run.log" >&2; exit 1; }
    python3 - "$label" "$work/time.txt" "$work/run.log" <<'PY'
import re, sys
label, (wall, rss), summary = sys.argv[1], open(sys.argv[2]).read().split(), open(sys.argv[3]).read().strip().splitlines()[-1]
delivered = int(re.search(r"(\d+) delivered", summary).group(1))
failed = int(re.search(r"(\d+) failed", summary).group(1))
retries = int(re.search(r"(\d+) retr", summary).group(1))
rate = delivered / float(wall)
print(f"{rate:.0f}")
print(f"{label:<40} {float(wall):8.2f} s wall  {int(rss) // 1024:6d} MB peak RSS  {delivered:,} delivered, "
      f"{failed} failed, {retries} retries: {rate:,.0f} deliveries/s", file=sys.stderr)
PY
}
many=$(durable "run --drain ($drain_events events, $pipelines sinks)" "$work/pipelines" --input "$work/drain.jsonl")
single=$(BENCH_EVENTS="$work/single.jsonl" BENCH_PORT=$nginx_port durable "run --drain ($single_events events, 1 sink)" bench/delivery-pipeline.yaml)
echo "deliveries/s, $pipelines sinks / 1 sink (same run, same nginx): $many / $single = $(echo "scale=2; $many / $single" | bc) (target >= 0.7)"
