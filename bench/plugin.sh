#!/usr/bin/env bash
# Plugin benchmark: `run --dry-run --json` over 100k events, signed, in one hyperfine run:
#
#   built-in     bench/builtin-pipeline.yaml: a built-in no-op step (removes a field no event has)
#   plugin       bench/plugin-pipeline.yaml: the same pipeline with a no-op Python plugin that
#                decodes each request and sends the event back (bench/plugins/noop, 2 processes)
#   passthrough  the same with a no-op Python plugin that echoes the event without decoding it
#                (bench/plugins/passthrough): the cost of the plugin machinery alone
#
# Checks that all three print identical bytes, then prints events/s and the ratios.
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
    -n plugin "$run bench/plugin-pipeline.yaml > $work/plugin.jsonl" \
    -n passthrough "$run bench/passthrough-pipeline.yaml > $work/passthrough.jsonl" >&2

# A no-op is a no-op: the plugin runs must print exactly what the built-in run printed.
for variant in plugin passthrough; do
    cmp -s "$work/builtin.jsonl" "$work/$variant.jsonl" || { echo "$variant output differs from built-in output" >&2; exit 1; }
done
python3 - "$work/times.json" "$events" "$(wc -l < "$work/plugin.jsonl")" <<'PY'
import json, os, sys
runs = {r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}
events, lines = int(sys.argv[2]), int(sys.argv[3])
builtin = runs["built-in"]
print(f"events: {events}, deliveries printed: {lines} (identical in all three runs), cores: {os.cpu_count()}")
print(f"built-in no-op step:            {events/builtin:9,.0f} events/s (median {builtin*1000:.0f} ms)")
for name, label in [("plugin", "Python no-op plugin (decodes):"), ("passthrough", "Python passthrough plugin:    ")]:
    print(f"{label}  {events/runs[name]:9,.0f} events/s (median {runs[name]*1000:.0f} ms), {builtin/runs[name]:.0%} of built-in")
PY
