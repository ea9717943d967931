import json, signal, sys, time

def on_term(signum, frame):
    print("slow-shutdown: got SIGTERM", file=sys.stderr, flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, on_term)
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "init":
        print(json.dumps({"type": "ready"}), flush=True)
    else:
        print(json.dumps({"id": message["id"], "event": message["event"]}), flush=True)
print("slow-shutdown: got EOF", file=sys.stderr, flush=True)
time.sleep(60)
