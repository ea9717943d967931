import json, sys

count = 0
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "init":
        n = message["config"]["n"]
        print(json.dumps({"type": "ready"}), flush=True)
        continue
    count += 1
    if count == n:
        print(f"crash-at: dying on request {count} as asked", file=sys.stderr, flush=True)
        sys.exit(3)
    print(json.dumps({"id": message["id"], "event": message["event"]}), flush=True)
