#!/usr/bin/env python3
"""Fills a loyali-hooks state store (already created and migrated by the binary) with N deliveries
spread over the last 7 days, for bench/dashboard.sh. The store is left at schema version 6, without
the maintained aggregates and the later indexes, for the binary to migrate and fill them.

20 pipelines x 2 sinks, 14 event types; 95% succeeded (a tenth of them after a retry), 2% failed
after 3 attempts, 2% pending, 1% waiting to retry; one attempt row per attempt with a realistic
latency (log-normal around 80 ms); a 300-byte envelope per delivery. Ids are canonical
(whd_ + 32 hex digits, stored as 16 bytes), as the store writes them.

    dashboard-fill.py STATE_DIR N NOW_MS
"""
import os
import random
import sqlite3
import sys

state, count, now_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(12)
types = ["points.earned", "points.redeemed", "points.expired", "points.adjusted", "tier.upgraded", "tier.downgraded",
         "customer.created", "customer.updated", "redemption.created", "redemption.pending", "redemption.approved",
         "redemption.fulfilled", "redemption.rejected", "achievement.earned"]
routes = [(f"pipeline-{p:02d}", sink) for p in range(20) for sink in ("primary", "audit")]
week = 7 * 86_400_000
db = sqlite3.connect(os.path.join(state, "loyali-hooks.db"))
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = OFF")
# Back to schema 6, as a store written before the maintained aggregates: the rows go in behind the
# binary's back, and its next start runs migration 7, which fills the rollups from them (timed by
# dashboard.sh). Undo any later migration here too when one is added.
# Migrations after 7 are undone too, so that the binary applies them again on the filled rows.
version = db.execute("PRAGMA user_version").fetchone()[0]
if version >= 10:
    db.executescript("DROP INDEX deliveries_failed_by_update; DROP INDEX deliveries_by_update; "
                     "CREATE INDEX deliveries_by_update ON deliveries (updated_at, pipeline, sink, status, attempts);")
if version >= 9:
    db.executescript("DROP INDEX deliveries_unsettled_by_key; ALTER TABLE deliveries DROP COLUMN order_key;")
if version >= 8:
    db.executescript("DROP INDEX deliveries_in_flight;")
if version >= 7:
    db.executescript("""
        DROP TABLE rollups;
        CREATE INDEX attempts_by_sink ON attempts (pipeline, sink, started_at, duration_ms);
        PRAGMA user_version = 6;
    """)
seq = db.execute("SELECT coalesce(max(seq), 0) FROM deliveries").fetchone()[0]
body = b'{"id":"whd_x","event_type":"points.earned","created_at":"2026-01-01T00:00:00Z","data":{' + b'"k":"' + b"v" * 220 + b'"}}'
batch_d, batch_a, batch_b = [], [], []


def flush():
    db.executemany("INSERT INTO deliveries (seq, id, pipeline, sink, event_id, event_type, schedule, status, attempts, "
                   "schedule_offset, next_attempt_at, created_at, updated_at, last_error, last_http_status) "
                   "VALUES (?, ?, ?, ?, ?, ?, '0,60000,300000', ?, ?, 0, ?, ?, ?, ?, ?)", batch_d)
    db.executemany("INSERT INTO attempts (delivery_seq, attempt, pipeline, sink, started_at, duration_ms, http_status, "
                   "error_class, error_message, response_snippet, outcome, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch_a)
    db.executemany("INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)", batch_b)
    batch_d.clear(), batch_a.clear(), batch_b.clear()


db.execute("BEGIN")
for n in range(count):
    seq += 1
    # Oldest first, so seq follows time as it does in a real store.
    created = now_ms - week + (week * n) // count
    pipeline, sink = routes[rng.randrange(len(routes))]
    event_type = types[rng.randrange(len(types))]
    roll = rng.random()
    if roll < 0.95:
        status, attempts = "succeeded", (2 if rng.random() < 0.1 else 1)
    elif roll < 0.97:
        status, attempts = "failed", 3
    elif roll < 0.99:
        status, attempts = "pending", 0
    else:
        status, attempts = "retrying", 1
    t = created
    last_status, last_error, next_at = None, None, None
    for a in range(1, attempts + 1):
        duration = max(1, int(rng.lognormvariate(4.4, 0.6)))
        final = a == attempts
        if status == "succeeded" and final:
            outcome, code, error_class, nxt = "succeeded", 200, None, None
        elif status == "failed" and final:
            outcome, code, error_class, nxt = "failed", 503, "http_5xx", None
        else:
            nxt = t + duration + 60_000
            outcome, code, error_class = "retry", 503, "http_5xx"
        batch_a.append((seq, a, pipeline, sink, t, duration, code, error_class, None if code == 200 else "HTTP 503",
                        None, outcome, nxt))
        last_status, last_error = code, (None if code == 200 else "http_5xx: HTTP 503")
        t = (nxt or t + duration)
    if status in ("pending", "retrying"):
        next_at = t + 60_000
    updated = min(t, now_ms)
    batch_d.append((seq, rng.randbytes(16), pipeline, sink, f"evt_bench_{n}", event_type, status, attempts, next_at,
                    created, updated, last_error, last_status))
    batch_b.append((seq, body))
    if len(batch_d) >= 20_000:
        flush()
flush()
db.execute("COMMIT")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
print(f"filled {count} deliveries")
