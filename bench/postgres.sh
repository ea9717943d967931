#!/usr/bin/env bash
# PostgreSQL store benchmark (issue 11 item 10), every figure from the same run against one
# local nginx answering `return 200`:
#   1. one node on SQLite vs one node on PostgreSQL: `run --drain` delivering N events (default
#      100k), signed, max_in_flight 32 (bench/delivery-pipeline.yaml); target PostgreSQL >= 10k/s;
#   2. one `serve` node vs two on one PostgreSQL database: the file source is read by one node
#      (advisory lock), both claim and deliver; timed from start until every delivery succeeded;
#   3. two nodes, one `kill -9`ed a third of the way through and restarted: every delivery made,
#      duplicates counted at nginx (an access log of X-Loyali-Delivery).
# With CPU-seconds (user + sys) of each node, of PostgreSQL (every backend) and of nginx per
# phase, read from /proc, so a box with fewer free cores than processes still shows where the
# ceiling is. Prints the load average: timings on a busy box are indicative only.
#
#   bash bench/postgres.sh [N]        (BENCH_PORT, default 18190)
#
# PostgreSQL is a private throwaway cluster (.ci/postgres-cluster) on a unix socket, with
# synchronous_commit = off (as SQLite's WAL with synchronous=NORMAL: a commit survives a crash of
# the process, the last ones may not survive one of the OS) and stock settings otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/nginx.sh
. bench/lib/nginx.sh
events=${1:-100000}
port=${BENCH_PORT:-18190}
bin=${LOYALI_HOOKS_BIN:-.build/release/loyali-hooks}
work=$(mktemp -d /tmp/loyali-bench-pg.XXXXXX)
pg="$work/pg"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    stop_nginx "$work"
    .ci/postgres-cluster destroy "$pg" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

for tool in nginx psql python3; do command -v $tool >/dev/null || { echo "bench needs $tool" >&2; exit 2; }; done
[ -x "$bin" ] || swift build -c release
chmod 755 "$work"

url=$(.ci/postgres-cluster start "$pg" "synchronous_commit = off" "shared_buffers = 256MB")
psql_() { psql -X -q -t -A "$url" "$@"; }
db_url() { echo "${url%/postgres}/$1"; }

start_nginx "$work" "$port" 'return 200 "ok";' "    log_format delivery \$http_x_loyali_delivery;
    server {
        listen 127.0.0.1:$((port + 1));
        access_log $work/received.log delivery buffer=256k flush=1s;
        location / { return 200 \"ok\"; }
    }"

python3 bench/gen-events.py "$events" > "$work/events.jsonl"
export BENCH_EVENTS="$work/events.jsonl" BENCH_SECRET=whsec_bench_secret_not_for_production BENCH_PORT=$port

# CPU-seconds (user + sys, children reaped included) of a process and all its descendants.
cpu_tree() {
    python3 - "$@" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
stats = {}
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(pid)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
roots = {int(p) for p in sys.argv[1:]}
total, grew = 0, True
tree = set(roots)
while grew:
    grew = False
    for pid, (ppid, _) in stats.items():
        if ppid in tree and pid not in tree:
            tree.add(pid); grew = True
print(sum(stats[p][1] for p in tree if p in stats) / tick)
PY
}
postmaster=$(head -1 "$pg/data/postmaster.pid")
nginx_pid=$(cat "$work/nginx.pid")
# Deliveries succeeded so far, from the hourly rollups (the figure `stats` reads): a few rows. A
# count(*) of the outbox read the whole table on every poll, and its CPU was counted as PostgreSQL's.
succeeded() { psql_ -d "$(db_url "$1")" -c "SELECT coalesce(sum(succeeded), 0) FROM rollups WHERE span = 3600000" 2>/dev/null || echo 0; }
now() { date +%s.%N; }
results="$work/results"
: > "$results"
record() { echo "$*" >> "$results"; }

# --- 1. one node: SQLite vs PostgreSQL, `run --drain` -------------------------------------------
one_run() { # NAME STORE-ARGS…
    local name=$1; shift
    local pg0 ng0 start end
    pg0=$(cpu_tree "$postmaster"); ng0=$(cpu_tree "$nginx_pid")
    start=$(now)
    /usr/bin/time -f "%U %S %M" -o "$work/time-$name" "$bin" run bench/delivery-pipeline.yaml --drain "$@" 2> "$work/run-$name.log"
    end=$(now)
    read -r user sys rss < "$work/time-$name"
    record "$name $(python3 -c "print($end - $start)") $(python3 -c "print($user + $sys)") $(python3 -c "print($(cpu_tree "$postmaster") - $pg0)") $(python3 -c "print($(cpu_tree "$nginx_pid") - $ng0)") $rss"
}
one_run sqlite --state "$work/sqlite-state"
psql_ -c "CREATE DATABASE one_node"
one_run postgresql --store "$(db_url one_node)" --node-id bench-1

# --- 2. serve nodes on PostgreSQL: one vs two ---------------------------------------------------
start_node() { # DB NODE PIPELINE; sets $node_pid
    "$bin" serve "$3" --store "$(db_url "$1")" --node-id "$2" --lease 5s --admin off --no-watch --state "$work/state-$2" \
        2> "$work/serve-$2.log" &
    node_pid=$!
    pids+=("$node_pid")
}
stop_node() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
serve_run() { # NAME NODES
    local name=$1 count=$2 node_pids=() pg0 ng0 start end
    psql_ -c "CREATE DATABASE $name"
    mkdir -p "$work/p-$name" && cp bench/delivery-pipeline.yaml "$work/p-$name/"
    pg0=$(cpu_tree "$postmaster"); ng0=$(cpu_tree "$nginx_pid")
    start=$(now)
    for i in $(seq 1 "$count"); do start_node "$name" "$name-$i" "$work/p-$name"; node_pids+=("$node_pid"); done
    until [ "$(succeeded "$name")" -ge "$events" ]; do sleep 0.2; done
    end=$(now)
    local pgc ngc nodes_cpu=0 per_node="" cpu
    pgc=$(python3 -c "print($(cpu_tree "$postmaster") - $pg0)"); ngc=$(python3 -c "print($(cpu_tree "$nginx_pid") - $ng0)")
    for pid in "${node_pids[@]}"; do
        cpu=$(cpu_tree "$pid")
        per_node+="$cpu,"
        nodes_cpu=$(python3 -c "print($nodes_cpu + $cpu)")
        stop_node "$pid"
    done
    record "$name $(python3 -c "print($end - $start)") $nodes_cpu $pgc $ngc - ${per_node%,}"
}
serve_run serve_one 1
serve_run serve_two 2

# --- 3. two nodes, one killed with SIGKILL a third of the way, then restarted --------------------
psql_ -c "CREATE DATABASE killed"
mkdir -p "$work/p-killed"
sed "s/\${BENCH_PORT}/$((port + 1))/" bench/delivery-pipeline.yaml > "$work/p-killed/delivery-pipeline.yaml"
start=$(now)
start_node killed killed-a "$work/p-killed"; a=$node_pid
start_node killed killed-b "$work/p-killed"; b=$node_pid
until [ "$(succeeded killed)" -ge $((events / 3)) ]; do sleep 0.1; done
kill -9 "$a"; wait "$a" 2>/dev/null || true
killed_at=$(succeeded killed)
sleep 1
start_node killed killed-a "$work/p-killed"; a=$node_pid
until [ "$(succeeded killed)" -ge "$events" ]; do sleep 0.2; done
end=$(now)
stop_node "$a"; stop_node "$b"
sleep 1.2  # nginx flushes its access log every second
kill -USR1 "$nginx_pid"; sleep 0.3
read -r received distinct < <(python3 - "$work/received.log" <<'PY'
import sys
lines = [l.strip() for l in open(sys.argv[1]) if l.strip() and l.strip() != "-"]
print(len(lines), len(set(lines)))
PY
)
cut_off=$(psql_ -d "$(db_url killed)" -c "SELECT count(*) FROM attempts WHERE error_class = 'interrupted'")
total=$(psql_ -d "$(db_url killed)" -c "SELECT count(*) FROM deliveries")
done_count=$(psql_ -d "$(db_url killed)" -c "SELECT count(*) FROM deliveries WHERE status = 'succeeded'")

# --- Summary ------------------------------------------------------------------------------------
python3 - "$results" "$events" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" <<PY
import sys
rows = {l.split()[0]: l.split() for l in open(sys.argv[1])}
events, load, cores = int(sys.argv[2]), sys.argv[3], sys.argv[4]
print(f"PostgreSQL store benchmark: {events:,} deliveries to nginx, {cores} cores, load average {load}")
print(f"{'run':<34}{'deliveries/s':>13}{'wall s':>8}{'node CPU-s':>12}{'postgres CPU-s':>16}{'nginx CPU-s':>13}")
def line(label, key):
    r = rows[key]
    wall = float(r[1])
    print(f"{label:<34}{events / wall:>13,.0f}{wall:>8.2f}{float(r[2]):>12.2f}{float(r[3]):>16.2f}{float(r[4]):>13.2f}"
          + (f"   per node: {r[6]}" if len(r) > 6 else ""))
    return events / wall
sqlite = line("run --drain, SQLite", "sqlite")
postgres = line("run --drain, PostgreSQL", "postgresql")
one = line("serve, 1 node, PostgreSQL", "serve_one")
two = line("serve, 2 nodes, PostgreSQL", "serve_two")
print(f"PostgreSQL / SQLite (one node): {postgres / sqlite:.2f}; PostgreSQL {postgres:,.0f}/s (target >= 10,000/s: {'met' if postgres >= 10000 else 'MISSED'})")
print(f"two nodes / one node: {two / one:.2f}x (target >= 1.6x on 2 cores: {'met' if two / one >= 1.6 else 'missed; see the CPU columns'})")
print(f"kill -9 of one of two nodes at {int('$killed_at'):,} delivered: {int('$done_count'):,} of {int('$total'):,} succeeded in "
      f"{float('$end') - float('$start'):.1f} s; nginx received {int('$received'):,} requests for {int('$distinct'):,} deliveries: "
      f"{int('$received') - int('$distinct'):,} duplicates; {int('$cut_off'):,} attempts logged as interrupted")
PY
