#!/usr/bin/env python3
"""Times the Delivery log's API call (GET /api/deliveries) for every combination of the filters the
page offers, for bench/dashboard.sh: status (any, or each of the five), pipeline, sink, event type
(each any or one value), the activity window (any, the last hour, 7 days ago up to 24 hours ago),
and the id search (a delivery-id prefix, an event id) with each status; then keyset pages deep
into the log (a cursor among the oldest rows) with each status. Each figure is the median of 3
calls after a warm-up. Prints the slowest combinations and a summary line per group.

    dashboard-log.py PORT TOKEN
"""
import http.client
import itertools
import json
import statistics
import sys
import time
import urllib.parse

port, token = int(sys.argv[1]), sys.argv[2]


def call(query):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("GET", "/api/deliveries?" + query, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, (query, r.status, body[:200])
    return json.loads(body)


def timed(query):
    call(query)
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        call(query)
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


statuses = ["", "succeeded", "failed", "pending", "retrying", "in_flight"]
windows = ["", "since=1h", "since=7d&until=24h"]
groups = {"filters": [], "search": [], "deep": []}
for status, pipeline, sink, event_type, window in itertools.product(
        statuses, ["", "pipeline-07"], ["", "audit"], ["", "tier.downgraded"], windows):
    parts = [("status", status), ("pipeline", pipeline), ("sink", sink), ("event_type", event_type)]
    query = "&".join([f"{k}={urllib.parse.quote(v)}" for k, v in parts if v] + ([window] if window else []) + ["limit=50"])
    groups["filters"].append((query, timed(query)))
for status, q in itertools.product(statuses, ["whd_ab", "evt_bench_123456", "nothing_like_this"]):
    query = "&".join(([f"status={status}"] if status else []) + [f"q={q}", "limit=50"])
    groups["search"].append((query, timed(query)))
# A cursor among the oldest rows (last active 160 hours ago): a page as deep as the log goes.
deep = call("limit=1&until=160h")["next"]
assert deep, "no rows older than 160 hours"
for status in statuses:
    base = "&".join(([f"status={status}"] if status else []) + ["limit=50"])
    query = base + "&before=" + urllib.parse.quote(deep)
    groups["deep"].append((query, timed(query)))

everything = [row for rows in groups.values() for row in rows]
print(f"{'slowest log queries (median of 3)':<70} {'ms':>8}")
for query, ms in sorted(everything, key=lambda row: -row[1])[:8]:
    print(f"  {query:<68} {ms:>8.1f}")
for name, rows in groups.items():
    values = [ms for _, ms in rows]
    over = sum(1 for ms in values if ms >= 100)
    print(f"log {name}: {len(rows)} combinations, median {statistics.median(values):.1f} ms, "
          f"max {max(values):.1f} ms, {over} at or over 100 ms")
