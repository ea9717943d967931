#!/usr/bin/env python3
"""Write N pipeline files, one per customer integration, for the many-subscriptions benchmark.

    bench/many-pipelines.py N DIR [URL]

Each pipeline subscribes to 3 of the 15 catalogued event types (so each event reaches a fifth of
the pipelines), signs with Standard Webhooks (secret from $BENCH_SECRET) and has one http sink
posting to URL/hook/<i> (default http://127.0.0.1:18190). Deterministic.
"""
import importlib.util
import os
import sys

# The catalogue's 15 types, in catalogue order, from the events generator beside this script.
_spec = importlib.util.spec_from_file_location("gen_events", os.path.join(os.path.dirname(__file__), "gen-events.py"))
_gen_events = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gen_events)
TYPES = _gen_events.TYPES


def main():
    count = int(sys.argv[1])
    folder = sys.argv[2]
    url = sys.argv[3] if len(sys.argv) > 3 else "http://127.0.0.1:18190"
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        first = (i % 5) * 3
        events = ", ".join(TYPES[first:first + 3])
        with open(os.path.join(folder, f"customer-{i:05d}.yaml"), "w") as out:
            out.write(
                f"pipeline: customer-{i:05d}\n"
                f"source: {{ type: stdin }}\n"
                f"filter:\n  events: [{events}]\n"
                f"sign:\n  scheme: standard-webhooks\n  secrets: [\"${{BENCH_SECRET}}\"]\n"
                f"sinks:\n  hook:\n    type: http\n    url: {url}/hook/{i}\n"
            )


if __name__ == "__main__":
    main()
