#!/usr/bin/env bash
# Plugin benchmark: `run --dry-run --json` over 100k events through a no-op Python transform
# plugin (bench/plugins/noop, 2 processes) against the same pipeline with a built-in no-op step
# instead, measured in the same hyperfine run. Checks both print identical bytes, then prints
# events/s for both and the ratio.
#
#   bash bench/plugin.sh [EVENTS]        # RUNS=5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v hyperfine >/dev/null || { echo "bench needs hyperfine: apt-get install -y hyperfine" >&2; exit 2; }
swift build -c release >&2

python3 bench/gen-events.py "$events" > "$work/events.jsonl"
export BENCH_SECRET=whsec_bench_secret_not_for_production
export LOYALI_HOOKS_PLUGINS=bench/plugins
# Start the interpreter itself, not a version-manager shim (pyenv's is a bash script per start).
PATH="$(dirname "$(python3 -c 'import sys; print(sys.executable)')"):$PATH"
run=".build/release/loyali-hooks run --input $work/events.jsonl --dry-run --json --timestamp 1700000000"

hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$work/times.json" \
    -n built-in "$run bench/builtin-pipeline.yaml > $work/builtin.jsonl" \
    -n plugin "$run bench/plugin-pipeline.yaml > $work/plugin.jsonl" >&2

# A no-op is a no-op: the plugin run must print exactly what the built-in run printed.
cmp -s "$work/builtin.jsonl" "$work/plugin.jsonl" || { echo "plugin output differs from built-in output" >&2; exit 1; }
python3 - "$work/times.json" "$events" "$(wc -l < "$work/plugin.jsonl")" <<'PY'
import json, os, sys
runs = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
events, lines = int(sys.argv[2]), int(sys.argv[3])
builtin, plugin = runs["built-in"]["median"], runs["plugin"]["median"]
print(f"events: {events}, deliveries printed: {lines} (identical with and without the plugin), cores: {os.cpu_count()}")
print(f"built-in no-op step:     {events/builtin:,.0f} events/s (median {builtin*1000:.0f} ms)")
print(f"Python no-op plugin:     {events/plugin:,.0f} events/s (median {plugin*1000:.0f} ms)")
print(f"ratio plugin / built-in: {builtin/plugin:.0%}")
PY
