#!/usr/bin/env bash
# Plugin benchmark: `run --dry-run --json` over 100k events, signed, three ways in one run:
#
#   built-in     bench/builtin-pipeline.yaml: a built-in no-op step (removes a field no event has)
#   plugin       bench/plugin-pipeline.yaml: the same pipeline with a no-op Python plugin that
#                decodes each request and sends the event back (bench/plugins/noop, 2 processes)
#   passthrough  the same with a no-op Python plugin that echoes the event without decoding it
#                (bench/plugins/passthrough, relying on the key order docs/plugins.md
#                guarantees): the cost of the plugin machinery alone
#
# Both plugins are no-ops. The echoing one measures what loyali-hooks adds (processes, pipes,
# framing, reply checks); the decoding one adds Python's json on top, about 9 µs of CPU per event
# here, which is more than the whole built-in pipeline costs.
#
# The three alternate round by round (so a busy neighbour slows them alike), after a warm-up
# round. Checks that all three print identical bytes, then prints events/s (median) and ratios.
#
#   bash bench/plugin.sh [EVENTS]        # ROUNDS=7 by default
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

swift build -c release >&2
python3 bench/gen-events.py "$events" > "$work/events.jsonl"
export BENCH_SECRET=whsec_bench_secret_not_for_production
export LOYALI_HOOKS_PLUGINS=bench/plugins
# Start the interpreter itself, not a version-manager shim (pyenv's is a bash script per start).
PATH="$(dirname "$(python3 -c 'import sys; print(sys.executable)')"):$PATH"

python3 - "$work" "$events" "${ROUNDS:-7}" <<'PY'
import filecmp, os, statistics, subprocess, sys, time
work, events, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
variants = {
    "built-in": "bench/builtin-pipeline.yaml",
    "plugin": "bench/plugin-pipeline.yaml",
    "passthrough": "bench/passthrough-pipeline.yaml",
}
times = {name: [] for name in variants}
for round in range(rounds + 1):
    order = list(variants)[round % 3:] + list(variants)[:round % 3]
    for name in order:
        with open(f"{work}/{name}.jsonl", "wb") as out:
            started = time.perf_counter()
            subprocess.run(
                [".build/release/loyali-hooks", "run", variants[name], "--input", f"{work}/events.jsonl",
                 "--dry-run", "--json", "--timestamp", "1700000000"],
                stdout=out, stderr=subprocess.DEVNULL, check=True)
            if round > 0:  # round 0 warms caches up
                times[name].append(time.perf_counter() - started)
# A no-op is a no-op: every run must print exactly what the built-in run printed.
for name in ("plugin", "passthrough"):
    if not filecmp.cmp(f"{work}/built-in.jsonl", f"{work}/{name}.jsonl", shallow=False):
        sys.exit(f"{name} output differs from the built-in output")
lines = sum(1 for _ in open(f"{work}/plugin.jsonl", "rb"))
median = {name: statistics.median(values) for name, values in times.items()}
builtin = median["built-in"]
print(f"events: {events}, deliveries printed: {lines} (identical in all three), cores: {os.cpu_count()}, "
      f"rounds: {rounds}, load average: {os.getloadavg()[0]:.1f}")
print(f"built-in no-op step:                                 {events/builtin:9,.0f} events/s (median {builtin*1000:.0f} ms)")
for name, label in [("passthrough", "Python no-op plugin, echoing each event undecoded: "),
                    ("plugin", "Python no-op plugin, json-decoding and re-encoding:  ")]:
    print(f"{label} {events/median[name]:9,.0f} events/s (median {median[name]*1000:.0f} ms), "
          f"{builtin/median[name]:.0%} of built-in")
PY
