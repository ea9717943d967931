import json, os, sys

path = None
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "init":
        path = os.path.join(os.environ["LOYALI_HOOKS_WORKDIR"], message["config"]["path"])
        print(json.dumps({"type": "ready"}), flush=True)
        continue
    delivery = message["delivery"]
    with open(path, "a") as out:
        out.write(json.dumps(delivery) + "\n")
    mode = json.loads(delivery["body"])["data"].get("sink")
    if mode == "retry":
        reply = {"id": message["id"], "error": "receiver busy", "retry": True}
    elif mode == "fatal":
        reply = {"id": message["id"], "error": "account closed", "retry": False}
    elif mode == "crash":
        sys.exit(9)
    else:
        reply = {"id": message["id"], "ok": True}
    print(json.dumps(reply), flush=True)
