import json, sys, time

count = 0
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "init":
        n = message["config"]["n"]
        print(json.dumps({"type": "ready"}), flush=True)
        continue
    count += 1
    if count == n:
        time.sleep(3600)
    print(json.dumps({"id": message["id"], "event": message["event"]}), flush=True)
