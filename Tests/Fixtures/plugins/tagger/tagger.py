import json, sys

config = {}
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "init":
        config = message["config"]
        print("tagger: config " + json.dumps(config, sort_keys=True), file=sys.stderr, flush=True)
        print(json.dumps({"type": "ready"}), flush=True)
        continue
    event = message["event"]
    data = event["data"]
    reply = {"id": message["id"]}
    if data.get("broken_reply"):
        print('{"id":%d,"event":{"data":' % message["id"], flush=True)
        continue
    if data.get("empty_reply"):
        print('{"id":%d}' % message["id"], flush=True)
        continue
    if data.get("drop"):
        reply["drop"] = True
    elif "fail" in data:
        reply["error"] = data["fail"]
    else:
        if data.get("change_id"):
            event["id"] = "evt_changed"
        data["tag"] = config["tag"]
        if config.get("labels"):
            data["labels"] = config["labels"]
        data.update(config.get("extra", {}))
        reply["event"] = event
    if config.get("loud"):
        print(f"tagger: {event['event_type']} {event['id']}", file=sys.stderr, flush=True)
    print(json.dumps(reply, ensure_ascii=False), flush=True)
